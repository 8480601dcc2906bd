/**
 * The organiser's model of the tests: a conv net that is none of the built-ins (conv 8 5x5 -> max
 * pool -> conv 16 3x3 -> flatten -> dense 10 on 28x28x1, 17,386 values), built with tfjs-layers.
 */
import * as tf from '@tensorflow/tfjs';

export function convNet(): tf.Sequential {
  return tf.sequential({ layers: [
    tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 5, activation: 'relu' }),
    tf.layers.maxPooling2d({ poolSize: 2 }),
    tf.layers.conv2d({ filters: 16, kernelSize: 3, activation: 'relu' }),
    tf.layers.flatten(),
    tf.layers.dense({ units: 10 }),
  ] });
}
