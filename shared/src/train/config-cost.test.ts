/** The run configuration's schema (from the field table) and the cost estimate the server sends with a join. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import '@tensorflow/tfjs'; // as a runner sets tfjs up
import { matrixView } from '../compress/layers.ts';
import { Model } from '../model/model.ts';
import { CONFIG_KEYS, DEFAULT_CONFIG, MODELS, parseRunConfig, RUN_CONFIG_SCHEMA } from './config.ts';
import { estimateCost, maxUsefulRank, MODEL_SHAPES } from './config-cost.ts';

test('the schema has one entry per configuration key, and parses the defaults back', () => {
  assert.deepEqual(Object.keys(RUN_CONFIG_SCHEMA.shape).sort(), [...CONFIG_KEYS].sort());
  assert.deepEqual(parseRunConfig({ ...DEFAULT_CONFIG }), DEFAULT_CONFIG);
  assert.deepEqual(parseRunConfig({ steps: '300', ratio: '0.05', nonsense: 1 }), { ...DEFAULT_CONFIG, steps: 300, ratio: 0.05 });
});

test('a bad key is a ConfigError naming it, quoting at most ~64 characters of the value', () => {
  assert.throws(() => parseRunConfig({ compressor: 'zip' }), { name: 'ConfigError', message: /^compressor must be one of none\|/ });
  assert.throws(() => parseRunConfig({ batchSize: 1.5 }), { name: 'ConfigError', message: 'batchSize must be an integer, got 1.5' });
  assert.throws(() => parseRunConfig({ steps: 0 }), { name: 'ConfigError', message: 'steps must be in [1, 10000000], got 0' });
  assert.throws(() => parseRunConfig({ lr: 'NaN' }), { name: 'ConfigError', message: /^lr must be a number/ });
  const long = 'x'.repeat(900_000);
  assert.throws(() => parseRunConfig({ model: long }), (err: Error) => err.name === 'ConfigError' && err.message.length < 200 && /900002 characters/.test(err.message));
});

test('the cost table matches the models as built', () => {
  for (const name of MODELS) {
    const model = new Model(name, [28, 28, 1], 10);
    assert.equal(MODEL_SHAPES[name].params, model.size, name);
    const matrices = model.layers.map((l) => matrixView(l)).filter((v) => v !== null).map((v) => [v.m, v.n]);
    assert.deepEqual(matrices, MODEL_SHAPES[name].matrices.map(([m, n]) => [m, n]), name);
    model.dispose();
  }
  assert.equal(maxUsefulRank('mlp'), 256);
  assert.equal(maxUsefulRank('cnn'), 16);
});

test('the default is 1x and light; the ruinous configuration of the hostile table is heavy, and says why', () => {
  const base = estimateCost(DEFAULT_CONFIG);
  assert.equal(base.relative, 1);
  assert.equal(base.heavy, false);
  assert.deepEqual(base.reasons, []);
  const ruinous = estimateCost({ ...DEFAULT_CONFIG, model: 'cnn', batchSize: 4096, evalEvery: 1, evalSize: 10000, compressor: 'greedylore', rank: 1024, period: 1 });
  assert.equal(ruinous.heavy, true);
  assert.ok(ruinous.relative > 50);
  assert.ok(ruinous.reasons.some((r) => /4096 examples/.test(r)));
  assert.ok(ruinous.reasons.some((r) => /10000 examples every 1 steps/.test(r)));
  // Four workers: each sends 2(N-1)/N of the f32 vector.
  assert.equal(estimateCost({ ...DEFAULT_CONFIG, workers: 4 }).denseBytesPerStep, Math.round(1.5 * 4 * 203_530));
});
