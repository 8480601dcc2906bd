/**
 * The built-in models (the MNIST tasks' `mlp` and `cnn`, task/mnist-tasks.ts), as plain lists of
 * tfjs variables so that their weights map one to one onto the Float32Arrays that travel and that
 * the optimizer updates.
 *
 * Initial weights come from the run seed (Glorot uniform, computed in TypeScript:
 * task/initial-weights.ts), so every replica starts from the same bits without any transfer.
 *
 * Only tfjs-core is imported here: the runner (the tab, the Node worker, a test) sets tfjs up by
 * importing `@tensorflow/tfjs`, which registers the backends and the gradients this needs.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayerShape } from '../compress/types.ts';
import { featureCount, type Dataset } from '../data/mnist.ts';
import { ConfigError } from '../errors.ts';
import type { ModelName } from '../train/config.ts';
import { seededWeights } from '../task/initial-weights.ts';
import { parameterCount, type GradientResult, type TrainableModel } from '../task/trainable-model.ts';

interface Architecture {
  params: LayerShape[];
  forward(x: tf.Tensor4D, p: tf.Variable[]): tf.Tensor2D;
}

const MLP_HIDDEN = 256;

const ARCHITECTURES: Record<ModelName, (shape: [number, number, number], classes: number) => Architecture> = {
  /** 784-256-10 with ReLU. */
  mlp: ([h, w, c], classes) => {
    const inputs = h * w * c;
    return {
      params: [
        { name: 'dense1/kernel', shape: [inputs, MLP_HIDDEN] },
        { name: 'dense1/bias', shape: [MLP_HIDDEN] },
        { name: 'dense2/kernel', shape: [MLP_HIDDEN, classes] },
        { name: 'dense2/bias', shape: [classes] },
      ],
      forward: (x, [w1, b1, w2, b2]) => {
        const flat = tf.reshape(x, [x.shape[0], inputs]) as tf.Tensor2D;
        const hidden = tf.relu(tf.add(tf.matMul(flat, w1 as tf.Variable<tf.Rank.R2>), b1!));
        return tf.add(tf.matMul(hidden, w2 as tf.Variable<tf.Rank.R2>), b2!) as tf.Tensor2D;
      },
    };
  },
  /** conv3x3x8 - pool - conv3x3x16 - pool - dense: small enough for software WebGL. */
  cnn: ([h, w, c], classes) => {
    const flat = (Math.floor((Math.floor((h - 2) / 2) - 2) / 2) ** 2) * 16;
    void w;
    return {
      params: [
        { name: 'conv1/kernel', shape: [3, 3, c, 8] },
        { name: 'conv1/bias', shape: [8] },
        { name: 'conv2/kernel', shape: [3, 3, 8, 16] },
        { name: 'conv2/bias', shape: [16] },
        { name: 'dense/kernel', shape: [flat, classes] },
        { name: 'dense/bias', shape: [classes] },
      ],
      forward: (x, [k1, b1, k2, b2, wd, bd]) => {
        let y = tf.relu(tf.add(tf.conv2d(x, k1 as tf.Variable<tf.Rank.R4>, 1, 'valid'), b1!)) as tf.Tensor4D;
        y = tf.maxPool(y, 2, 2, 'valid');
        y = tf.relu(tf.add(tf.conv2d(y, k2 as tf.Variable<tf.Rank.R4>, 1, 'valid'), b2!)) as tf.Tensor4D;
        y = tf.maxPool(y, 2, 2, 'valid');
        const f = tf.reshape(y, [y.shape[0], flat]) as tf.Tensor2D;
        return tf.add(tf.matMul(f, wd as tf.Variable<tf.Rank.R2>), bd!) as tf.Tensor2D;
      },
    };
  },
};


/** A model whose weights live in tfjs variables, mirrored by the caller's Float32Arrays. */
export class Model implements TrainableModel {
  readonly layers: LayerShape[];
  readonly inputShape: [number, number, number];
  private readonly variables: tf.Variable[];
  private readonly arch: Architecture;

  /** `inputShape` is an image's [height, width, channels]. */
  constructor(readonly name: ModelName, inputShape: readonly number[], readonly classes: number) {
    if (inputShape.length !== 3) throw new ConfigError(`the ${name} takes images [height, width, channels], got examples of shape [${inputShape.join(', ')}]`);
    this.inputShape = [inputShape[0]!, inputShape[1]!, inputShape[2]!];
    this.arch = ARCHITECTURES[name](this.inputShape, classes);
    this.layers = this.arch.params.map(({ name: n, shape }) => ({ name: n, shape }));
    // tidy disposes the zeros a variable is made from (the variable keeps its own reference).
    this.variables = this.arch.params.map((p) => tf.tidy(() => tf.variable(tf.zeros(p.shape), true, undefined)));
  }

  /** Parameter count. */
  get size(): number {
    return parameterCount(this.layers);
  }

  /** Seeded initial weights (Glorot uniform kernels, zero biases), identical on every replica. */
  initialWeights(seed: number): Float32Array[] {
    return seededWeights(seed, this.layers);
  }

  setWeights(weights: Float32Array[]): void {
    tf.tidy(() => this.variables.forEach((v, i) => v.assign(tf.tensor(weights[i]!, v.shape))));
  }

  /** Mean cross-entropy gradient on a batch, read back to the CPU. */
  gradient(batch: Dataset): GradientResult {
    const { value, grads } = tf.tidy(() => {
      const x = tf.tensor4d(batch.images, [batch.count, ...this.inputShape]);
      const y = tf.oneHot(tf.tensor1d(batch.labels, 'int32'), this.classes);
      return tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, this.arch.forward(x, this.variables)) as tf.Scalar, this.variables);
    });
    try {
      // dataSync, not data(): async reads poll with timers that Chromium throttles in background tabs.
      return {
        loss: value.dataSync()[0]!,
        grads: this.variables.map((v) => grads[v.name]!.dataSync() as Float32Array),
      };
    } finally {
      value.dispose();
      tf.dispose(Object.values(grads));
    }
  }

  /** The logits of `count` images (flat, channels-last), read back: `count x classes` values. */
  logits(images: Float32Array, count: number): Float32Array {
    const out = tf.tidy(() => this.arch.forward(tf.tensor4d(images, [count, ...this.inputShape]), this.variables));
    try {
      return out.dataSync() as Float32Array;
    } finally {
      out.dispose();
    }
  }

  /** Fraction of `data` classified correctly. */
  accuracy(data: Dataset, batchSize = 500): number {
    let correct = 0;
    for (let start = 0; start < data.count; start += batchSize) {
      const n = Math.min(batchSize, data.count - start);
      const features = featureCount(this.inputShape);
      const predicted = tf.tidy(() => {
        const x = tf.tensor4d(data.images.subarray(start * features, (start + n) * features), [n, ...this.inputShape]);
        return tf.argMax(this.arch.forward(x, this.variables), 1);
      });
      const labels = predicted.dataSync();
      predicted.dispose();
      for (let i = 0; i < n; i++) if (labels[i] === data.labels[start + i]) correct++;
    }
    return correct / data.count;
  }

  dispose(): void {
    tf.dispose(this.variables);
  }
}
