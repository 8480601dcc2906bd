/**
 * A task trained by N members over an in-memory network, each with its own data load, model and
 * session, as N workers would (tests of tasks: examples/, the recurrent model). Resolves once every
 * member finished its run, with what each ended with; every model is disposed.
 */
import { deadline, raceSignal } from '../deadline.ts';
import type { StepRecord } from '../protocol/status.ts';
import type { Task } from '../task/task.ts';
import type { RunConfig } from '../train/config.ts';
import { TrainingSession } from '../train/session.ts';
import { InMemoryNetwork } from '../transport/in-memory-transport.ts';
import { Messenger } from '../wire/messenger.ts';

export interface TaskRoomMember {
  id: string;
  state: TrainingSession['state'];
  error: string | null;
  history: StepRecord[];
  weightsHash: string;
  testAccuracy: number | null;
  compressor: string;
}

export async function trainTaskInMemory(task: Task, config: RunConfig, workers: number, timeoutMs = 120_000): Promise<TaskRoomMember[]> {
  const limit = deadline(timeoutMs, `${workers} members training ${task.name}`);
  const network = new InMemoryNetwork({ latencyMs: 1 });
  const ids = Array.from({ length: workers }, (_, i) => `member-${i}`);
  const sessions: TrainingSession[] = [];
  const disposals: Array<() => void> = [];
  try {
    for (const id of ids) {
      const data = await task.loadData(limit.signal);
      const model = task.createModel(data.train, config);
      const messenger = new Messenger(network.join(id));
      const session = new TrainingSession({ selfId: id, config, messenger, model, train: data.train, test: data.test, connect: () => Promise.resolve() });
      disposals.push(() => {
        session.dispose();
        messenger.dispose();
        model.dispose();
      });
      sessions.push(session);
    }
    const runs = sessions.map((s) => s.run());
    for (const s of sessions) s.setView({ epoch: 1, members: ids });
    await raceSignal(Promise.all(runs), limit.signal, `${task.name} in memory`);
    return sessions.map((s, i) => ({
      id: ids[i]!, state: s.state, error: s.error, history: [...s.history], weightsHash: s.weightsHash, testAccuracy: s.testAccuracy, compressor: s.compressorName,
    }));
  } finally {
    limit.clear();
    for (const s of sessions) s.stop();
    for (const dispose of disposals) dispose();
  }
}
