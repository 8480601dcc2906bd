import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseNodeWorkerArgs } from './args.ts';

test('a Node worker takes --signal, --room, --backend and passes every other --KEY VALUE on as a URL parameter', () => {
  assert.deepEqual(parseNodeWorkerArgs(['--signal', 'http://h:1', '--room=r', '--workers', '4', '--bandwidth', '10mbit', '--backend', 'wasm']), {
    signal: 'http://h:1',
    room: 'r',
    backend: 'wasm',
    wrtc: 'node-datachannel',
    params: { workers: '4', bandwidth: '10mbit' },
  });
  assert.deepEqual(parseNodeWorkerArgs([]), { signal: 'http://127.0.0.1:8080', room: 'default', backend: 'cpu', wrtc: 'node-datachannel', params: {} });
  assert.equal(parseNodeWorkerArgs(['--help']), 'help');
  assert.deepEqual(parseNodeWorkerArgs(['--local-data', 'a.csv,dir/b.csv']), { signal: 'http://127.0.0.1:8080', room: 'default', backend: 'cpu', wrtc: 'node-datachannel', params: {}, localData: ['a.csv', 'dir/b.csv'] });
});

test('bad arguments are refused before anything starts', () => {
  assert.throws(() => parseNodeWorkerArgs(['--workers']), /--workers needs a value/);
  assert.throws(() => parseNodeWorkerArgs(['room', 'x']), /expected --KEY VALUE/);
  assert.throws(() => parseNodeWorkerArgs(['--compressor', 'zip']), /compressor must be one of/);
  assert.throws(() => parseNodeWorkerArgs(['--backend', 'webgl']), /backend must be one of cpu\|wasm/);
  assert.throws(() => parseNodeWorkerArgs(['--wrtc', 'firefox']), /wrtc must be one of/);
  assert.throws(() => parseNodeWorkerArgs(['--local-data', ',']), /--local-data needs at least one CSV file/);
});
