/**
 * What the session needs of a model, whatever built it: its weights as one Float32Array per layer
 * (with the shapes compressors see), seeded initial weights identical on every replica, the
 * gradient of a batch read back to the CPU, and its accuracy. The plain-variable models
 * (model/model.ts) and any tfjs-layers model (layers-model.ts) keep it.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { LayerShape } from '../compress/types.ts';
import type { Dataset } from '../data/mnist.ts';

export interface GradientResult {
  grads: Float32Array[];
  loss: number;
}

export interface TrainableModel {
  /** One entry per weight array, in the order of every Float32Array[] below. */
  readonly layers: LayerShape[];
  /** Parameter count. */
  readonly size: number;
  /** Initial weights from the run seed alone: the same bits on every replica, nothing transferred. */
  initialWeights(seed: number): Float32Array[];
  /** Mirrors `weights` (the replica's, one array per layer) into the model's tensors. */
  setWeights(weights: Float32Array[]): void;
  /** Mean loss of a batch and its gradient per layer, read back to the CPU. */
  gradient(batch: Dataset): GradientResult;
  /** Fraction of `data` classified correctly (the argmax of the outputs against the labels). */
  accuracy(data: Dataset, batchSize?: number): number;
  /** Frees every tensor the model holds. */
  dispose(): void;
  /**
   * The model with `weights` as tfjs Layers artifacts (topology, weight specs, weight data), which
   * `tf.loadLayersModel(tf.io.fromMemory(...))` loads; it sets `weights` first, so call it on a
   * model nobody trains meanwhile. Absent: the model has no tfjs-layers topology (the built-in
   * models, whose export builds one: the client's layers-export.ts).
   */
  layersArtifacts?(weights: Float32Array[]): Promise<tf.io.ModelArtifacts>;
}

/** Parameter count of `layers`. */
export function parameterCount(layers: readonly LayerShape[]): number {
  return layers.reduce((sum, l) => sum + l.shape.reduce((a, b) => a * b, 1), 0);
}
