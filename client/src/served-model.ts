/**
 * A room's own model, from its server: the model file its organiser gave (`--model-file`, or the
 * organiser page's upload), which the room key `task` names (`model-<hash>`) and the server
 * serves at `servedModelUrl(task)` in one normal form (model.json, weights in `weights.bin`).
 *
 * The tab fetches it with the room's data, before it joins, and builds it once to check it: a
 * model it cannot build, or one that does not fit the data, is a ModelFileError and the tab never
 * joins. Each session then builds a fresh copy from the topology (synchronously, as Task.createModel
 * is). Weights in the file are every replica's initial weights (a resumed run starts from them,
 * bit for bit); without them the seeded initializer, as for any task.
 */
import * as tf from '@tensorflow/tfjs';
import { builtinTasks, ConfigError, deadline, errorMessage, featureCount, fromLayersModel, ModelFileError, SERVED_MODEL_TASK, SERVED_WEIGHTS_PATH, servedModelUrl, type DataShape, type Task, type TaskData } from '@tabswarm/shared';
import type { RunConfig } from '@tabswarm/shared/protocol';

/** Fetching model.json and its weights; the server's limit is 64 MiB by default. */
const FETCH_TIMEOUT_MS = 120_000;

/** A model file, checked and ready to build. */
export interface ServedModel {
  /** A fresh model (tfjs's own initializers: the session sets its weights). */
  build(): tf.LayersModel;
  /** The file's weights, in the model's order of trainable weights; null without weights. */
  initialWeights: Float32Array[] | null;
  /** It has convolutions, which tfjs 4.22's wasm backend cannot train (no Conv2DBackpropFilter). */
  convolutional: boolean;
}

/**
 * Builds `modelJson` (and `weights`, the file its manifest names) once to check it against the
 * data's shape: ModelFileError (`unbuildable`) if tfjs or fromLayersModel refuses it.
 */
export async function loadServedModel(modelJson: string, weights: ArrayBuffer | null, data: DataShape): Promise<ServedModel> {
  let model: tf.LayersModel | undefined;
  try {
    const json = JSON.parse(modelJson) as tf.io.ModelJSON;
    const weightSpecs = json.weightsManifest?.flatMap((g) => g.weights) ?? [];
    if (weightSpecs.length > 0 && weights === null) throw new ModelFileError('the model names weights the server did not send', 'weights');
    model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, ...(weights && weightSpecs.length > 0 ? { weightSpecs, weightData: weights } : {}) }));
    const initialWeights = weightSpecs.length > 0 ? model.trainableWeights.map((w) => (w.read().dataSync() as Float32Array).slice()) : null;
    checkFits(model, data);
    const config = JSON.stringify(model.getConfig());
    const cls = model instanceof tf.Sequential ? tf.Sequential : tf.LayersModel;
    return {
      // fromConfig takes the config apart, so each build parses its own copy.
      build: () => cls.fromConfig(cls, JSON.parse(config) as tf.serialization.ConfigDict) as tf.LayersModel,
      initialWeights,
      convolutional: model.layers.some((l) => l.getClassName().includes('Conv')),
    };
  } catch (err) {
    if (err instanceof ModelFileError) throw err;
    throw new ModelFileError(`this tab cannot build the room's model: ${errorMessage(err).slice(0, 300)}`, 'unbuildable');
  } finally {
    model?.dispose();
  }
}

/** fromLayersModel's checks, and the model's input and output against the data's. */
function checkFits(model: tf.LayersModel, data: DataShape): void {
  fromLayersModel({ ...layersView(model), dispose: () => undefined });
  const input = model.inputs[0]!.shape.slice(1) as number[];
  if (featureCount(input) !== featureCount(data.shape)) throw new ConfigError(`the model takes inputs of shape [${input.join(', ')}], the room's examples have shape [${data.shape.join(', ')}]`);
  const output = model.outputs[0]!.shape;
  if (output.length !== 2 || output[1] !== data.classes) throw new ConfigError(`the model gives outputs of shape [${output.map((d) => d ?? 'batch').join(', ')}]; the room's data has ${data.classes} classes`);
}

/** The members fromLayersModel reads, without handing it the model (it would own and dispose it). */
function layersView(model: tf.LayersModel): Omit<Parameters<typeof fromLayersModel>[0], 'dispose'> {
  return { name: model.name, inputs: model.inputs, outputs: model.outputs, trainableWeights: model.trainableWeights, nonTrainableWeights: model.nonTrainableWeights, apply: (x, kwargs) => model.apply(x, kwargs), save: (handler) => model.save(handler) };
}

/** Fetches the model file `task` names from the server at `base` (its weights too, if it has any). */
export async function fetchServedModel(task: string, base: string, signal: AbortSignal): Promise<{ modelJson: string; weights: ArrayBuffer | null }> {
  const limit = deadline(FETCH_TIMEOUT_MS, `fetching the room's model ${task}`, signal);
  try {
    const url = new URL(servedModelUrl(task), base);
    const modelJson = await fetchOk(url, limit.signal).then((r) => r.text());
    const hasWeights = (JSON.parse(modelJson) as tf.io.ModelJSON).weightsManifest !== undefined;
    const weights = hasWeights ? await fetchOk(new URL(SERVED_WEIGHTS_PATH, url), limit.signal).then((r) => r.arrayBuffer()) : null;
    return { modelJson, weights };
  } finally {
    limit.clear();
  }
}

async function fetchOk(url: URL, signal: AbortSignal): Promise<Response> {
  const response = await fetch(url, { signal });
  if (!response.ok) throw new ModelFileError(`the server answered ${response.status} for ${url.pathname.slice(0, 100)}`, 'unbuildable');
  return response;
}

/**
 * The task of a room whose key `task` names a served model: the room's data (`loadData`, MNIST in
 * the page) and the model from the server at `base`.
 */
export function servedModelTask(task: string, loadData: (signal: AbortSignal) => Promise<TaskData>, base: string): Task {
  let served: ServedModel | undefined;
  const loaded = (): ServedModel => {
    if (!served) throw new ConfigError(`the model of ${task} is used before it was loaded`);
    return served;
  };
  return {
    name: task,
    // Another name than the data's own: the member loads this task's data, and the model with it, once.
    dataset: `${task}-data`,
    async loadData(signal) {
      const [data, file] = await Promise.all([loadData(signal), fetchServedModel(task, base, signal)]);
      served = await loadServedModel(file.modelJson, file.weights, data.train);
      return data;
    },
    excludedBackend: () => (served?.convolutional ? { name: 'wasm', reason: 'it has no Conv2DBackpropFilter kernel, so it cannot train a model with convolutions' } : undefined),
    createModel() {
      const { build, initialWeights } = loaded();
      return fromLayersModel(build(), initialWeights ? { initialWeights: () => initialWeights.map((w) => w.slice()) } : {});
    },
  };
}

/**
 * The task of a room by its configuration: the served model its `task` names, or the built-in
 * task its `model` key names, both on `loadData` (MNIST), opened once for whichever the room trains.
 * One task per name, so a served model loads once.
 */
export function roomTasks(loadData: (signal: AbortSignal) => Promise<TaskData>, base: string): (config: RunConfig) => Task {
  let data: Promise<TaskData> | undefined;
  const load = (signal: AbortSignal): Promise<TaskData> => (data ??= loadData(signal).catch((err: unknown) => {
    data = undefined;
    throw err;
  }));
  const builtin = builtinTasks(load);
  const served = new Map<string, Task>();
  return (config) => {
    if (!SERVED_MODEL_TASK.test(config.task)) return builtin(config);
    let task = served.get(config.task);
    if (!task) served.set(config.task, (task = servedModelTask(config.task, load, base)));
    return task;
  };
}
