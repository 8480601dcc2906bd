/**
 * The built-in tasks: MNIST with the plain-variable MLP or CNN (model/model.ts). The room key
 * `model=mlp|cnn` names one. How MNIST is read depends on the platform (HTTP range requests in a
 * tab, the disk in Node), so the runner hands its loader in; both tasks share it (`dataset`).
 */
import { Model } from '../model/model.ts';
import type { ModelName, RunConfig } from '../train/config.ts';
import type { Task, TaskData } from './task.ts';

export type MnistLoader = (signal: AbortSignal) => Promise<TaskData>;

export function mnistTask(model: ModelName, loadData: MnistLoader): Task {
  return {
    name: `mnist-${model}`,
    builtin: true,
    dataset: 'mnist',
    loadData,
    createModel: (data) => new Model(model, data.shape, data.classes),
    excludedBackend: () => (model === 'cnn' ? { name: 'wasm', reason: 'it has no Conv2DBackpropFilter kernel, so it cannot train the cnn' } : undefined),
  };
}

/** The built-in task a room's configuration names by its `model` key. */
export function builtinTasks(loadData: MnistLoader): (config: Pick<RunConfig, 'model'>) => Task {
  const tasks = { mlp: mnistTask('mlp', loadData), cnn: mnistTask('cnn', loadData) } satisfies Record<ModelName, Task>;
  return (config) => tasks[config.model];
}
