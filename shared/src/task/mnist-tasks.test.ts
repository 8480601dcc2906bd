import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import '@tensorflow/tfjs'; // as a runner sets tfjs up
import { quadrantImages } from '../data/synthetic.ts';
import { DEFAULT_CONFIG } from '../train/config.ts';
import { hashArrays } from '../train/hash.ts';
import { builtinTasks } from './mnist-tasks.ts';
import type { TaskData } from './task.ts';

describe('the built-in MNIST tasks', () => {
  const data = quadrantImages(8, 12, 1);
  const load = (): Promise<TaskData> => Promise.resolve({ train: data, test: data });
  const choose = builtinTasks(load);

  it('the room key `model` names the task; both share the runner\'s loader', () => {
    const mlp = choose({ model: 'mlp' });
    const cnn = choose({ model: 'cnn' });
    assert.deepEqual([mlp.name, cnn.name, mlp.dataset, cnn.dataset], ['mnist-mlp', 'mnist-cnn', 'mnist', 'mnist']);
    assert.equal(mlp.loadData, load);
    assert.equal(cnn.loadData, load);
    assert.equal(mlp.excludedBackend?.(DEFAULT_CONFIG), undefined);
    assert.equal(cnn.excludedBackend?.(DEFAULT_CONFIG)?.name, 'wasm');
  });

  it('builds the plain-variable models with the seeded weights they always had', () => {
    const model = choose({ model: 'cnn' }).createModel(data, { ...DEFAULT_CONFIG, model: 'cnn' });
    assert.deepEqual(model.layers.map((l) => l.shape), [[3, 3, 1, 8], [8], [3, 3, 8, 16], [16], [16, 4], [4]]);
    // Recorded before the task API: the MLP on 28x28x1 with seed 42 (any change would split old and new tabs).
    const mlp = choose({ model: 'mlp' }).createModel({ shape: [28, 28, 1], classes: 10 }, DEFAULT_CONFIG);
    assert.equal(hashArrays(mlp.initialWeights(42)), 'dc4187337889a38a');
    model.dispose();
    mlp.dispose();
    assert.throws(() => choose({ model: 'mlp' }).createModel({ shape: [16], classes: 4 }, DEFAULT_CONFIG), { name: 'ConfigError', message: /takes images \[height, width, channels\]/ });
  });
});
