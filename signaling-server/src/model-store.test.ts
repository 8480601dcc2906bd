/**
 * The organiser's model file on the server: `--model-file` at start (checked, served, named by the
 * rooms' `task`), a refused file stops the server with its named error, and the organiser page's
 * upload keeps a model, refuses a bad one by name and opens a room on it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { io, type Socket } from 'socket.io-client';
import { ORGANISE_API, SERVED_MODEL_TASK, servedModelUrl, type Ack, type ClientToServerEvents, type JoinResult, type OrganiserErrorBody, type OrganiserRoom, type ServerToClientEvents, type UploadedModel, type UploadModelRequest } from '@tabswarm/shared/protocol';
import { convNet, modelFiles, type ModelFiles } from '@tabswarm/shared/testing';
import { listenSignalingServer } from './listen.ts';
import { jsonLogger } from './log.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const LIMIT = { timeout: 60_000 };
const TOKEN = 'organiser-token-of-the-tests';

async function saved(model: tf.LayersModel): Promise<ModelFiles> {
  const files = await modelFiles(model);
  model.dispose();
  return files;
}

/** Writes model.json and its weights into a fresh folder; gives model.json's path. */
function written(files: ModelFiles): string {
  const dir = mkdtempSync(join(tmpdir(), 'tabswarm-model-'));
  writeFileSync(join(dir, 'model.json'), files.modelJson);
  if (files.weights) writeFileSync(join(dir, files.weights.name), files.weights.bytes);
  return join(dir, 'model.json');
}

/** Runs the CLI until it prints its organiser line (started) or exits (refused): its output and exit code. */
function runCli(args: string[]): Promise<{ out: string; err: string; code: number | null; kill(): void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--port', '0', '--host', '127.0.0.1', '--admin-token', TOKEN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`the server neither started nor stopped: ${out}${err}`)), 40_000);
    const done = (code: number | null): void => {
      clearTimeout(timer);
      resolve({ out, err, code, kill: () => child.kill('SIGKILL') });
    };
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (/organiser page: /.test(out)) done(null);
    });
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('exit', (code) => done(code));
  });
}

function joinRoom(url: string, room: string): Promise<Ack<JoinResult>> {
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
  return new Promise<Ack<JoinResult>>((resolve, reject) => {
    socket.timeout(5000).emit('room:join', { room, config: {} }, (e, result) => (e ? reject(e) : resolve(result)));
  }).finally(() => socket.disconnect());
}

function post(url: string, path: string, body: unknown): Promise<Response> {
  return fetch(`${url}${path}`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`o:${TOKEN}`).toString('base64')}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
}

function upload(files: ModelFiles): UploadModelRequest {
  return { modelJson: files.modelJson, weights: files.weights ? { [files.weights.name]: Buffer.from(files.weights.bytes).toString('base64') } : {} };
}

describe('the organiser\'s model file on the server', () => {
  let net: ModelFiles;
  before(async () => {
    await tf.setBackend('cpu');
    net = await saved(convNet());
  });

  it('--model-file: checked at start, the rooms\' task names it, served with its weights as the file has them', LIMIT, async (t) => {
    const path = written(net);
    t.after(() => rmSync(join(path, '..'), { recursive: true }));
    const server = await runCli(['--room', 'lab', '--model-file', path, '--max-model-params', '20000']);
    t.after(() => server.kill());
    assert.equal(server.code, null, server.err);
    const url = /signaling server on (http:\/\/\S+)/.exec(server.out)?.[1];
    assert.ok(url, server.out);
    assert.match(server.out, /model file model-[0-9a-f]{16}: 5 layers, 17386 weights/);
    const lab = await joinRoom(url, 'lab');
    assert.ok(lab.ok, JSON.stringify(lab));
    const task = lab.data.config.task;
    assert.match(task, SERVED_MODEL_TASK);
    const json = await (await fetch(`${url}${servedModelUrl(task)}`)).json() as { modelTopology: { config: { layers: Array<{ class_name: string }> } }; weightsManifest: Array<{ paths: string[] }> };
    assert.deepEqual(json.modelTopology.config.layers.map((l) => l.class_name), ['Conv2D', 'MaxPooling2D', 'Conv2D', 'Flatten', 'Dense']);
    assert.deepEqual(json.weightsManifest[0]!.paths, ['./weights.bin']);
    const weights = new Uint8Array(await (await fetch(`${url}/models/${task}/weights.bin`)).arrayBuffer());
    assert.deepEqual(weights, net.weights!.bytes);
    assert.equal((await fetch(`${url}/models/model-0000000000000000/model.json`)).status, 404);
  });

  it('--model-file refused by name: an unknown layer class, too many values', LIMIT, async (t) => {
    const unknown = written({ ...net, modelJson: net.modelJson.replace('"MaxPooling2D"', '"MaxPooling9D"') });
    const big = written(net);
    t.after(() => [unknown, big].forEach((p) => rmSync(join(p, '..'), { recursive: true })));
    const [a, b] = await Promise.all([runCli(['--model-file', unknown]), runCli(['--model-file', big, '--max-model-params', '10000'])]);
    assert.equal(a.code, 1);
    assert.match(a.err, /ModelFileError: unknown-layer: layer "max_pooling2d_MaxPooling2D\d+" of class "MaxPooling9D" is not a layer class tfjs-layers can build/);
    assert.equal(b.code, 1);
    assert.match(b.err, /ModelFileError: too-large: the weights hold 17386 values, over this server's 10000/);
  });

  it('the organiser page\'s upload: kept and served, a room opened on it; a bad file and an unknown model refused by name', LIMIT, async (t) => {
    const server = await listenSignalingServer({ adminToken: TOKEN, modelLimits: { maxBytes: 200_000, maxParameters: 20_000 }, log: jsonLogger('silent') });
    t.after(() => server.close());
    const answer = await post(server.url, ORGANISE_API.models, upload(net));
    assert.equal(answer.status, 201);
    const model = await answer.json() as UploadedModel;
    assert.deepEqual([SERVED_MODEL_TASK.test(model.task), model.layers, model.parameters], [true, 5, 17386]);
    const again = await (await post(server.url, ORGANISE_API.models, upload(net))).json() as UploadedModel;
    assert.equal(again.task, model.task, 'the same file is the same model');
    const room = await post(server.url, ORGANISE_API.rooms, { room: 'lab', config: { task: model.task, steps: '40' } });
    assert.equal(room.status, 201);
    assert.equal((await room.json() as OrganiserRoom).config.task, model.task);
    assert.deepEqual(new Uint8Array(await (await fetch(`${server.url}/models/${model.task}/weights.bin`)).arrayBuffer()), net.weights!.bytes);

    const refused = async (body: unknown, path: string = ORGANISE_API.models): Promise<[number, string, string]> => {
      const r = await post(server.url, path, body);
      const { error } = await r.json() as OrganiserErrorBody;
      return [r.status, error.name, error.message];
    };
    const normalized = await saved(tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3 }), tf.layers.batchNormalization(), tf.layers.dense({ units: 2 })] }));
    const [status, name, message] = await refused(upload(normalized));
    assert.deepEqual([status, name], [400, 'ModelFileError']);
    assert.match(message, /^non-trainable: layer "batch_normalization_BatchNormalization\d+" of class "BatchNormalization" has non-trainable weights/);
    const cut = upload(net);
    cut.weights[net.weights!.name] = Buffer.from(net.weights!.bytes.subarray(8)).toString('base64');
    assert.deepEqual(await refused(cut), [400, 'ModelFileError', 'weights: the files "./net.weights.bin" hold 69536 bytes; their weights in the manifest are 69544']);
    assert.deepEqual((await refused({ modelJson: 'x'.repeat(300_000), weights: {} })).slice(0, 2), [400, 'ValidationError']);
    const [, unknownName, unknownMessage] = await refused({ room: 'other', config: { task: 'model-0123456789abcdef' } }, ORGANISE_API.rooms);
    assert.deepEqual([unknownName, unknownMessage], ['ConfigError', 'task model-0123456789abcdef names no model file of this server; upload it first']);
  });
});
