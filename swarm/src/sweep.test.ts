import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RunSummary } from './metrics.ts';
import { combinations, runName, withSpeedups } from './sweep.ts';

test('combinations vary the first axis slowest', () => {
  const combos = combinations([{ key: 'compressor', values: ['none', 'powersgd'] }, { key: 'bandwidth', values: ['10mbit', '100mbit'] }]);
  assert.deepEqual(combos.map(runName), ['none-10mbit', 'none-100mbit', 'powersgd-10mbit', 'powersgd-100mbit']);
  assert.deepEqual(combinations([]), [{}]);
});

test('speed-up is against the fp32 run with the same other settings', () => {
  const summary = (compressor: string, seconds: number | null): RunSummary => ({ compressor, secondsToTarget: seconds } as RunSummary);
  const rows = withSpeedups([
    { name: 'a', settings: { compressor: 'none', bandwidth: '10mbit' }, summary: summary('none', 100), curve: [] },
    { name: 'b', settings: { compressor: 'powersgd', bandwidth: '10mbit' }, summary: summary('powersgd', 20), curve: [] },
    { name: 'c', settings: { compressor: 'powersgd', bandwidth: '100mbit' }, summary: summary('powersgd', 10), curve: [] },
    { name: 'd', settings: { compressor: 'fp16', bandwidth: '10mbit' }, summary: summary('fp16', null), curve: [] },
  ]);
  assert.deepEqual(rows.map((r) => r.speedup), [1, 5, null, null]);
});
