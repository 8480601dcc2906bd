/**
 * The organiser page's Download model. The page joins the room as an observer, as a
 * `role=observer` tab does (room-member.ts, room-follower.ts): a member hands it the state over
 * WebRTC, checked as an observer checks it (the server never sees a weight): the finished run's
 * final state, or the latest of a run under way. It saves that in TensorFlow.js's Layers format
 * (model.json + weights) and leaves. The page imports this module only when asked, so tfjs and
 * WebRTC stay out of it until then.
 */
import { deadline, SERVED_MODEL_TASK } from '@tabswarm/shared';
import { errorFromPayload, ModelUnavailableError, type ModelDownload, type OrganiserRoom, type TabStatus } from '@tabswarm/shared/protocol';
import { openMnist } from '../data.ts';
import { downloadModelFiles } from '../download.ts';
import { pageTask } from '../page-tasks.ts';
import { roomTasks } from '../served-model.ts';
import { startTabWorker } from '../tab-worker.ts';

/** Joining, the evaluation data, and each member's answer (the follower gives one 30 s, every member twice). */
const DOWNLOAD_MS = 120_000;

/** Saves the model of `room` as two files; `say` hears what it is doing. Leaves the room either way. */
export async function downloadRoomModel(room: OrganiserRoom, say: (text: string) => void): Promise<ModelDownload> {
  // The built-in tasks and the server's model files (this page's server serves them), else an example task.
  const task = room.config.task === '' || SERVED_MODEL_TASK.test(room.config.task) ? roomTasks((signal) => openMnist(undefined, signal), location.href) : await pageTask(room.config.task);
  // On a server with tickets the invite link carries the room's.
  const ticket = new URL(room.invite).searchParams.get('ticket');
  const limit = deadline(DOWNLOAD_MS, `the model of room ${room.room}`);
  let update = (): void => undefined;
  // The cpu backend: the observer only evaluates the state once, and needs no shader warm-up for it.
  const worker = startTabWorker({ task, room: room.room, role: 'observer', backend: 'cpu', params: ticket === null ? {} : { ticket }, onUpdate: () => update() });
  try {
    await new Promise<void>((resolve, reject) => {
      limit.signal.addEventListener('abort', () => reject(limit.signal.reason as Error), { once: true });
      update = () => {
        const s = worker.status();
        const outcome = heldOrFailed(s);
        if (outcome === 'held') resolve();
        else if (outcome) reject(outcome);
        else if (s.role === 'observer') say(`fetching the state from a member (${s.peers.length} in the room)…`);
      };
      update();
    });
    return downloadModelFiles(await worker.exportModel());
  } finally {
    limit.clear();
    await worker.stop();
  }
}

/** 'held' once the observer holds a state; the error if it cannot get one; undefined while it tries. */
function heldOrFailed(s: TabStatus): 'held' | Error | undefined {
  if (s.state === 'done' || (s.state === 'observing' && s.weightsHash !== '')) return 'held';
  if (s.error !== null) {
    // status() gives the error as `Name: message`; the page shows the named error again.
    const [name = 'Error', ...message] = s.error.split(': ');
    return errorFromPayload({ name, message: message.join(': ') });
  }
  // A finished room with no member left is the follower's ModelUnavailableError (above); a room under way with none has no state yet.
  if (s.role === 'observer' && s.peers.length === 0 && s.finished === null) return new ModelUnavailableError(`room ${s.room} has no member: nobody holds its model`);
  return undefined;
}
