/**
 * The tasks a tab trains besides the built-in MNIST ones, named by the URL key `task`: the
 * examples of examples/ (docs/TASKS.md), each loaded only when named. The name is also the room
 * key `task`: a tab naming another task than the room's refuses the room.
 */
import { ConfigError, type Task } from '@tabswarm/shared';

const PAGE_TASKS: Record<string, () => Promise<Task>> = {
  spirals: async () => (await import('@tabswarm/examples/spirals-task.ts')).task,
  'char-lstm': async () => {
    const [{ charLstmTask }, { default: storyUrl }] = await Promise.all([
      import('@tabswarm/examples/char-rnn/char-lstm.ts'),
      import('@tabswarm/examples/char-rnn/lighthouse.txt?url'),
    ]);
    return charLstmTask('lighthouse-story', async () => {
      const answer = await fetch(storyUrl);
      if (!answer.ok) throw new ConfigError(`the story for char-lstm did not load: HTTP ${answer.status}`);
      return answer.text();
    });
  },
};

export const PAGE_TASK_NAMES = Object.keys(PAGE_TASKS);

export function pageTask(name: string): Promise<Task> {
  const load = PAGE_TASKS[name];
  if (!load) return Promise.reject(new ConfigError(`task must be one of ${PAGE_TASK_NAMES.join('|')} (or absent: the built-in task the model key names), got ${JSON.stringify(name.slice(0, 64))}`));
  return load();
}
