/**
 * A task from a module file (`--task ./path/to/task.ts` of the Node worker and the swarm CLI):
 * imported (tsx runs TypeScript), and its export `task` (or default export) checked to be a Task.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, errorMessage } from '@tabswarm/shared/protocol';
import { isTask, type Task } from '@tabswarm/shared';

export async function importTask(path: string): Promise<Task> {
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`cannot import the task module ${path}: ${errorMessage(err)}`);
  }
  const task = module.task ?? module.default;
  if (!isTask(task)) {
    throw new ConfigError(`${path} does not export a task: it needs \`export const task: Task = { name, dataset, loadData, createModel }\` (or a default export); it exports ${Object.keys(module).join(', ') || 'nothing'}`);
  }
  return task;
}
