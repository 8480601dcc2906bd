import * as tf from '@tensorflow/tfjs';
import { train } from './greedylore.ts';
import { loadSmallMnist } from './mnist-small.ts';
await tf.setBackend('cpu');
const data = await loadSmallMnist(20000, 2000);
for (const [opt, lr0] of [['MSGD', 0.01], ['Adam', 0.002]] as const) {
  for (const n of [1, 2, 4, 8]) {
    const t = Date.now();
    const r = await train({ data, compressor: 'GreedyLore', optimizer: opt, lr: lr0 * Math.sqrt(n), workers: n, batch: 4, steps: 400, evalEvery: 10, target: 1.0 });
    console.log(opt, n, (Date.now() - t) / 1000, 's reached', r.reached, r.curve.map((p) => p[1].toFixed(2)).join(' '));
  }
}
