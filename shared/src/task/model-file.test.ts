import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { ModelFileReason } from '../errors.ts';
import { modelFiles } from '../testing/model-files.ts';
import { checkModelFile, LAYER_CLASSES, servedModelJson, SERVED_WEIGHTS_PATH, type ModelFileLimits } from './model-file.ts';

/** `model` as tfjs saves it: model.json's text and its one weights file (then disposed). */
async function saved(model: tf.LayersModel, withWeights = true): Promise<{ json: string; files: Map<string, Uint8Array> }> {
  const { modelJson, weights } = await modelFiles(model, withWeights);
  model.dispose();
  return { json: modelJson, files: new Map(weights ? [[weights.name, weights.bytes]] : []) };
}

/** The e2e's conv net: conv 8 5x5 -> max pool -> conv 16 3x3 -> flatten -> dense 10 on 28x28x1 (17,386 values). */
function convNet(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 5, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 16, kernelSize: 3, activation: 'relu' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 10 }),
    ],
  });
}

function refusedWith(reason: ModelFileReason, message: RegExp): { name: string; reason: ModelFileReason; message: RegExp } {
  return { name: 'ModelFileError', reason, message };
}

/** Edits model.json's object and gives its text back. */
function edited(json: string, edit: (file: { modelTopology: { config: { layers: Array<{ class_name: string; config: Record<string, unknown> }> } }; weightsManifest?: Array<{ paths: string[]; weights: Array<{ name: string; shape: number[] }> }> }) => void): string {
  const file = JSON.parse(json) as Parameters<typeof edit>[0];
  edit(file);
  return JSON.stringify(file);
}

describe('a model file (tfjs Layers format) before any tab builds it', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('LAYER_CLASSES is every layer class tfjs-layers registers, less nested models and RNN cells', () => {
    const registry = tf.serialization.SerializationMap.getMap().classNameMap;
    const isLayer = (cls: unknown): boolean => {
      for (let p = cls as { name?: string } | null; p; p = Object.getPrototypeOf(p) as { name?: string } | null) if (p.name === 'Layer') return true;
      return false;
    };
    const layers = Object.keys(registry).filter((name) => isLayer(registry[name]![0]));
    const excluded = layers.filter((name) => !LAYER_CLASSES.has(name)).sort();
    assert.deepEqual(excluded, ['ConvLSTM2DCell', 'Functional', 'GRUCell', 'LSTMCell', 'Model', 'Sequential', 'SimpleRNNCell', 'StackedRNNCells']);
    assert.deepEqual([...LAYER_CLASSES].filter((name) => !layers.includes(name)), []);
  });

  it('accepts a conv net saved by tfjs, with and without weights, and serves it in one normal form', async () => {
    const { json, files } = await saved(convNet());
    const checked = checkModelFile(json, files);
    assert.equal(checked.layers, 5);
    assert.equal(checked.parameters, 5 * 5 * 8 + 8 + 3 * 3 * 8 * 16 + 16 + 10 * 10 * 16 * 10 + 10);
    assert.equal(checked.weights?.length, 4 * checked.parameters!);
    assert.deepEqual(checked.weights, files.get('net.weights.bin'));
    const served = JSON.parse(servedModelJson(checked)) as { weightsManifest: Array<{ paths: string[]; weights: unknown[] }> };
    assert.deepEqual(served.weightsManifest.map((g) => [g.paths, g.weights.length]), [[[`./${SERVED_WEIGHTS_PATH}`], 6]]);
    // Checked again as served: the same file.
    assert.deepEqual(checkModelFile(servedModelJson(checked), new Map([[SERVED_WEIGHTS_PATH, checked.weights!]])), checked);

    // tfjs's converter from Keras nests the topology under model_config.
    const keras = JSON.stringify({ ...(JSON.parse(json) as object), modelTopology: { keras_version: '2.15.0', backend: 'tensorflow', model_config: (JSON.parse(json) as { modelTopology: unknown }).modelTopology } });
    assert.equal(checkModelFile(keras, files).parameters, checked.parameters);
    assert.throws(() => checkModelFile(keras.replace('"Flatten"', '"Flattener"'), files), refusedWith('unknown-layer', /"Flattener"/));

    const topology = await saved(convNet(), false);
    const bare = checkModelFile(topology.json, new Map());
    assert.deepEqual([bare.parameters, bare.weights, bare.weightSpecs.length], [null, null, 0]);
    assert.equal('weightsManifest' in (JSON.parse(servedModelJson(bare)) as object), false);
  });

  it('refuses each model a tab could not build or train identically, with its named reason', async () => {
    const { json, files } = await saved(convNet());
    const none = new Map<string, Uint8Array>();
    assert.throws(() => checkModelFile('{"modelTopology": ', none), refusedWith('malformed', /not JSON/));
    assert.throws(() => checkModelFile('{"weightsManifest": []}', none), refusedWith('malformed', /^malformed: modelTopology/));
    assert.throws(() => checkModelFile(edited(json, (f) => { f.modelTopology.config.layers[1]!.class_name = 'Frobnicate'; }), files), refusedWith('unknown-layer', /class "Frobnicate" is not a layer class tfjs-layers can build/));
    const normalized = await saved(tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3 }), tf.layers.batchNormalization(), tf.layers.dense({ units: 2 })] }));
    assert.throws(() => checkModelFile(normalized.json, normalized.files), refusedWith('non-trainable', /BatchNormalization.*non-trainable weights/));
    assert.throws(() => checkModelFile(edited(json, (f) => { f.modelTopology.config.layers[0]!.config.trainable = false; }), files), refusedWith('non-trainable', /Conv2D/));
    const a = tf.input({ shape: [4] });
    const b = tf.input({ shape: [4] });
    const twoInputs = await saved(tf.model({ inputs: [a, b], outputs: tf.layers.dense({ units: 2 }).apply(tf.layers.concatenate().apply([a, b])) as tf.SymbolicTensor }));
    assert.throws(() => checkModelFile(twoInputs.json, twoInputs.files), refusedWith('inputs-outputs', /2 inputs and 1 outputs/));
    assert.throws(() => checkModelFile(json, none), refusedWith('weights', /names the file ".\/net.weights.bin", which was not given/));
    assert.throws(() => checkModelFile(json, new Map([['net.weights.bin', files.get('net.weights.bin')!.subarray(4)]])), refusedWith('weights', /hold 69540 bytes; their weights in the manifest are 69544/));
    assert.throws(() => checkModelFile(edited(json, (f) => { f.weightsManifest![0]!.weights[0]!.name = 'elsewhere/kernel'; }), files), refusedWith('weights', /"elsewhere\/kernel" belongs to no layer/));
    const limits: ModelFileLimits = { maxBytes: 1 << 20, maxParameters: 17_385 };
    assert.throws(() => checkModelFile(json, files, limits), refusedWith('too-large', /hold 17386 values, over this server's 17385/));
    assert.throws(() => checkModelFile(json, files, { maxBytes: 60_000, maxParameters: 20_000 }), refusedWith('too-large', /bytes, over this server's 60000/));
    assert.throws(() => checkModelFile(json, files, { maxBytes: 100, maxParameters: 20_000 }), refusedWith('too-large', /^too-large: model.json is \d+ bytes, over this server's 100$/));
  });
});
