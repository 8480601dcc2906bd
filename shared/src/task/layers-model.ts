/**
 * Any tfjs-layers model (dense, conv, embedding, recurrent layers; `tf.sequential` or `tf.model`)
 * as a TrainableModel. Its trainable weights are the layers compressors see, in the model's own
 * order; their values come from the run seed (initial-weights.ts, or the task's own function),
 * never from tfjs's unseeded initializers, so every replica starts identical.
 *
 * The core imports tfjs-core only: the model is taken by the few members it is used through
 * (`LayersModelLike`, which a `tf.LayersModel` is), and its author's module imports tfjs-layers.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayerShape } from '../compress/types.ts';
import { featureCount, type Dataset } from '../data/mnist.ts';
import { ConfigError, ModelExportError } from '../errors.ts';
import { seededWeights } from './initial-weights.ts';
import { parameterCount, type GradientResult, type TrainableModel } from './trainable-model.ts';

/** The members of a `tf.LayersModel` this uses. */
export interface LayersModelLike {
  readonly name: string;
  readonly inputs: ReadonlyArray<{ readonly shape: ReadonlyArray<number | null> }>;
  readonly outputs: ReadonlyArray<{ readonly shape: ReadonlyArray<number | null> }>;
  readonly trainableWeights: ReadonlyArray<{ readonly name: string; readonly shape: ReadonlyArray<number | null>; read(): tf.Tensor }>;
  readonly nonTrainableWeights: ReadonlyArray<{ readonly name: string }>;
  apply(inputs: tf.Tensor, kwargs?: { training?: boolean }): unknown;
  /** Its topology and weights through an IO handler (the export). */
  save(handler: tf.io.IOHandler): Promise<tf.io.SaveResult>;
  dispose(): unknown;
}

/** A batch's mean loss from its labels (int32, [count]) and the model's outputs ([count, classes]). */
export type LossFunction = (labels: tf.Tensor1D, outputs: tf.Tensor2D) => tf.Scalar;

/** Mean softmax cross-entropy of outputs that are logits (the last layer has no softmax). */
export const crossEntropyOfLogits: LossFunction = (labels, outputs) =>
  tf.losses.softmaxCrossEntropy(tf.oneHot(labels, outputs.shape[1]), outputs) as tf.Scalar;

export interface LayersModelOptions {
  /** @default crossEntropyOfLogits */
  loss?: LossFunction;
  /** The initial weights from the run seed. @default seededWeights (Glorot kernels, zero vectors) */
  initialWeights?: (seed: number, layers: readonly LayerShape[]) => Float32Array[];
}

/** What `model.save` writes (topology, weight specs, weight data), kept in memory. */
export async function savedArtifacts(model: Pick<LayersModelLike, 'save'>): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler((artifacts) => {
    saved = artifacts;
    return Promise.resolve({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } });
  }));
  return saved!;
}

/** Wraps `model`, which the returned TrainableModel owns (its dispose() disposes the model). */
export function fromLayersModel(model: LayersModelLike, options: LayersModelOptions = {}): TrainableModel {
  return new LayersTrainableModel(model, options);
}

class LayersTrainableModel implements TrainableModel {
  readonly layers: LayerShape[];
  private readonly inputShape: number[];
  private readonly variables: tf.Variable[];
  private readonly loss: LossFunction;

  constructor(private readonly model: LayersModelLike, private readonly options: LayersModelOptions) {
    const what = `model ${model.name}`;
    if (model.inputs.length !== 1 || model.outputs.length !== 1) throw new ConfigError(`${what} has ${model.inputs.length} inputs and ${model.outputs.length} outputs; a task's model takes one input and gives one output`);
    // Batch-normalization statistics and the like are not trained, so the update that keeps replicas identical would not reach them.
    if (model.nonTrainableWeights.length > 0) throw new ConfigError(`${what} has non-trainable weights (${model.nonTrainableWeights.map((w) => w.name).join(', ')}), which replicas cannot keep identical; use layers without them`);
    const input = model.inputs[0]!.shape.slice(1);
    if (input.some((d) => d === null)) throw new ConfigError(`${what} has an input of unknown size [${input.map((d) => d ?? 'null').join(', ')}]; give every input dimension (e.g. inputLength of an embedding)`);
    this.inputShape = input as number[];
    this.layers = model.trainableWeights.map((w) => ({ name: w.name, shape: w.shape as number[] }));
    this.variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
    this.loss = options.loss ?? crossEntropyOfLogits;
  }

  get size(): number {
    return parameterCount(this.layers);
  }

  initialWeights(seed: number): Float32Array[] {
    const weights = (this.options.initialWeights ?? seededWeights)(seed, this.layers);
    if (weights.length !== this.layers.length || weights.some((w, i) => w.length !== parameterCount([this.layers[i]!]))) {
      throw new ConfigError(`the initial weights of model ${this.model.name} do not have its layers' sizes`);
    }
    return weights;
  }

  setWeights(weights: Float32Array[]): void {
    tf.tidy(() => this.variables.forEach((v, i) => v.assign(tf.tensor(weights[i]!, v.shape))));
  }

  gradient(batch: Dataset): GradientResult {
    const { value, grads } = tf.tidy(() => {
      const x = this.inputs(batch.images, batch.count, batch.shape);
      const labels = tf.tensor1d(batch.labels, 'int32');
      return tf.variableGrads(() => this.loss(labels, this.outputs(x, true)), this.variables);
    });
    try {
      // dataSync, not data(): async reads poll with timers that Chromium throttles in background tabs.
      return { loss: value.dataSync()[0]!, grads: this.variables.map((v) => grads[v.name]!.dataSync() as Float32Array) };
    } finally {
      value.dispose();
      tf.dispose(Object.values(grads));
    }
  }

  accuracy(data: Dataset, batchSize = 500): number {
    const features = featureCount(data.shape);
    let correct = 0;
    for (let start = 0; start < data.count; start += batchSize) {
      const n = Math.min(batchSize, data.count - start);
      const predicted = tf.tidy(() => tf.argMax(this.outputs(this.inputs(data.images.subarray(start * features, (start + n) * features), n, data.shape), false), 1));
      const labels = predicted.dataSync();
      predicted.dispose();
      for (let i = 0; i < n; i++) if (labels[i] === data.labels[start + i]) correct++;
    }
    return correct / data.count;
  }

  dispose(): void {
    this.model.dispose();
  }

  async layersArtifacts(weights: Float32Array[]): Promise<tf.io.ModelArtifacts> {
    const sizes = this.layers.map((l) => parameterCount([l]));
    if (weights.length !== sizes.length) throw new ModelExportError(`model ${this.model.name} has ${sizes.length} weight arrays, got ${weights.length}`);
    const wrong = sizes.findIndex((size, i) => weights[i]!.length !== size);
    if (wrong >= 0) throw new ModelExportError(`weight ${wrong} of model ${this.model.name} (${this.layers[wrong]!.name}) has ${sizes[wrong]} values, got ${weights[wrong]!.length}`);
    this.setWeights(weights);
    return savedArtifacts(this.model);
  }

  /** A batch of examples as the model's input tensor; examples of another size are a ConfigError. */
  private inputs(values: Float32Array, count: number, shape: readonly number[]): tf.Tensor {
    if (featureCount(shape) !== featureCount(this.inputShape)) {
      throw new ConfigError(`model ${this.model.name} takes inputs of shape [${this.inputShape.join(', ')}], the data's examples have shape [${shape.join(', ')}]`);
    }
    return tf.tensor(values, [count, ...this.inputShape]);
  }

  private outputs(x: tf.Tensor, training: boolean): tf.Tensor2D {
    const y = this.model.apply(x, { training });
    if (!(y instanceof tf.Tensor) || y.rank !== 2) throw new ConfigError(`model ${this.model.name} must give one output of shape [batch, classes]`);
    return y as tf.Tensor2D;
  }
}
