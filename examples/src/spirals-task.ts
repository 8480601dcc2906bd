/**
 * A complete custom task: a table of points (x, y) on three interleaved spirals, the class being
 * the arm, learnt by a small tfjs-layers network. The data is generated from a fixed seed, so every
 * member holds the same table; the core cuts each member's shard from it and draws its batches.
 *
 *   npm run swarm -- --task examples/src/spirals-task.ts --workers 2 --steps 200 --lr 0.01
 */
import * as tf from '@tensorflow/tfjs';
import { fromLayersModel, Rng, type Dataset, type Task } from '@tabswarm/shared';

const ARMS = 3;

/** `count` points, each on one of three spiral arms (its label), with a little noise. */
export function spiralTable(count: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const images = new Float32Array(count * 2);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const arm = rng.int(ARMS);
    const t = rng.next(); // how far along the arm
    const angle = 4 * t + (2 * Math.PI * arm) / ARMS;
    images[2 * i] = t * Math.cos(angle) + 0.03 * rng.gaussian();
    images[2 * i + 1] = t * Math.sin(angle) + 0.03 * rng.gaussian();
    labels[i] = arm;
  }
  return { images, labels, count, shape: [2], classes: ARMS };
}

/**
 * Examples [from, to) of a spiral table as the CSV a member on data of its own reads (a tab's
 * `data=local`, a Node worker's `--local-data`): a header, then per line the label, x and y.
 */
export function spiralCsv(table: Dataset, from = 0, to = table.count): string {
  const rows = ['label,x,y'];
  for (let i = from; i < to; i++) rows.push(`${table.labels[i]},${table.images[2 * i]},${table.images[2 * i + 1]}`);
  return `${rows.join('\n')}\n`;
}

export const task: Task = {
  name: 'spirals',
  dataset: 'spirals-v1',
  loadData: () => Promise.resolve({ train: spiralTable(3000, 1), test: spiralTable(600, 2) }),
  createModel: (data) => fromLayersModel(tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [...data.shape], units: 32, activation: 'relu' }),
      tf.layers.dense({ units: 32, activation: 'relu' }),
      tf.layers.dense({ units: data.classes }), // logits: the default loss is softmax cross-entropy
    ],
  })),
};
