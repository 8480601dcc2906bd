import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs';
import { quadrantImages } from '../data/synthetic.ts';
import { Model } from '../model/model.ts';
import { Rng } from '../rng.ts';
import { clipGlobalNorm, clippedSumBound, messageValueBound } from './clip.ts';
import { parseRunConfig } from './config.ts';
import { localGradient } from './local-gradient.ts';

const norm = (arrays: Float32Array[]): number => Math.sqrt(arrays.reduce((s, a) => s + a.reduce((t, v) => t + v * v, 0), 0));

describe('gradient clipping', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('scales a gradient over the bound onto it, keeps one under it, and 0 turns it off', () => {
    const rng = new Rng(3);
    const big = [Float32Array.from({ length: 100 }, () => rng.gaussian() * 10), Float32Array.from({ length: 7 }, () => rng.gaussian())];
    const direction = big.map((a) => a.slice());
    const before = clipGlobalNorm(big, 2);
    assert.ok(before > 2);
    assert.ok(Math.abs(norm(big) - 2) < 1e-5, `${norm(big)}`);
    // Same direction: every entry scaled by the same factor.
    const factor = big[0]![0]! / direction[0]![0]!;
    big.forEach((a, i) => a.forEach((v, j) => assert.ok(Math.abs(v - direction[i]![j]! * factor) < 1e-5)));
    const small = [Float32Array.of(0.3, 0.4)];
    assert.ok(Math.abs(clipGlobalNorm(small, 2) - 0.5) < 1e-6);
    assert.deepEqual(small, [Float32Array.of(0.3, 0.4)]);
    const off = direction.map((a) => a.slice());
    clipGlobalNorm(off, 0);
    assert.deepEqual(off, direction);
  });

  it('a sum of clipped gradients stays within the bound the receivers check', () => {
    const rng = new Rng(5);
    const sum = new Float32Array(50);
    for (let k = 1; k <= 6; k++) {
      const g = [Float32Array.from({ length: 50 }, () => rng.gaussian() * 100)];
      clipGlobalNorm(g, 1.5);
      g[0]!.forEach((v, i) => (sum[i] = sum[i]! + v));
      assert.ok(norm([sum]) <= clippedSumBound(1.5, k), `after ${k}: ${norm([sum])}`);
    }
    assert.equal(clippedSumBound(0, 3), Infinity);
  });

  it('a member\'s local gradient is clipped to the room\'s clip', () => {
    const model = new Model('mlp', [4, 4, 1], 4);
    const train = quadrantImages(200, 4, 1);
    const shard = Int32Array.from({ length: 200 }, (_, i) => i);
    const free = localGradient(model, train, shard, parseRunConfig({}), 0, 0);
    const clip = norm(free.grads) / 4;
    const clipped = localGradient(model, train, shard, parseRunConfig({ clip }), 0, 0);
    assert.ok(Math.abs(norm(clipped.grads) - clip) < 1e-4 * clip, `${norm(clipped.grads)} vs ${clip}`);
    model.dispose();
  });
});

describe('messageValueBound', () => {
  it('bounds messages only where they are the clipped gradients themselves', () => {
    assert.equal(messageValueBound({ clip: 2, compressor: 'none', ef: 'none', sync: 'step' }), 2);
    assert.equal(messageValueBound({ clip: 2, compressor: 'none', ef: 'none', sync: 'accumulate' }), undefined);
    assert.equal(messageValueBound({ clip: 2, compressor: 'fp16', ef: 'none', sync: 'step' }), 2);
    assert.equal(messageValueBound({ clip: 0, compressor: 'none', ef: 'none', sync: 'step' }), undefined);
    assert.equal(messageValueBound({ clip: 2, compressor: 'fp16', ef: 'ef14', sync: 'step' }), undefined);
    assert.equal(messageValueBound({ clip: 2, compressor: 'powersgd', ef: 'none', sync: 'step' }), undefined);
  });
  it('holds for every entry of a clipped gradient', () => {
    const g = [Float32Array.from({ length: 500 }, (_, i) => Math.sin(i) * 10), Float32Array.of(-40, 3)];
    clipGlobalNorm(g, 1.5);
    for (const layer of g) for (const v of layer) assert.ok(Math.abs(v) <= 1.5);
  });
});
