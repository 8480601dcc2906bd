/**
 * The tasks a tab trains besides the built-in MNIST ones, named by the URL key `task`: the
 * examples of examples/ (docs/TASKS.md), each loaded only when named. The name is also the room
 * key `task`: a tab naming another task than the room's refuses the room.
 */
import { ConfigError, type Task } from '@tabswarm/shared';

interface PageTask {
  load: () => Promise<Task>;
  /** What it trains on, as the volunteer's question says it (consent-panel.ts). */
  data: string;
  /** Roughly what a member downloads for it: all its data, whatever the member count. */
  downloadBytes: number;
}

/** The story char-lstm learns (examples/src/char-rnn/lighthouse.txt; a unit test keeps this its size). */
export const STORY_BYTES = 3825;

const PAGE_TASKS: Record<string, PageTask> = {
  spirals: {
    load: async () => (await import('@tabswarm/examples/spirals-task.ts')).task,
    data: 'points on three interleaved spirals, made in this tab',
    downloadBytes: 0,
  },
  'char-lstm': {
    load: async () => {
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
    data: 'the characters of a short story',
    downloadBytes: STORY_BYTES,
  },
};

export const PAGE_TASK_NAMES = Object.keys(PAGE_TASKS);

/** The page task `name`, if it is one (an own key only: `constructor` names no task). */
function lookUp(name: string): PageTask | undefined {
  return Object.hasOwn(PAGE_TASKS, name) ? PAGE_TASKS[name] : undefined;
}

/** What the page task `name` trains on and downloads; undefined for any other (the built-in MNIST tasks, a served model). */
export function pageTaskData(name: string): { data: string; downloadBytes: number } | undefined {
  const known = lookUp(name);
  return known && { data: known.data, downloadBytes: known.downloadBytes };
}

export function pageTask(name: string): Promise<Task> {
  const known = lookUp(name);
  if (!known) return Promise.reject(new ConfigError(`task must be one of ${PAGE_TASK_NAMES.join('|')} (or absent: the built-in task the model key names), got ${JSON.stringify(name.slice(0, 64))}`));
  return known.load();
}
