import assert from 'node:assert/strict';
import { it } from 'node:test';
import { NesterovSgd } from './outer-optimizer.ts';

it('Nesterov SGD: v = mu v + d, w -= lr (d + mu v), and its state moves to a fresh one', () => {
  const opt = new NesterovSgd([2], 0.5, 0.9);
  const w = [Float32Array.of(1, -2)];
  opt.apply(w, [Float32Array.of(1, 0.5)]);
  // v = (1, 0.5); w = w - 0.5 * (d + 0.9 v) = w - 0.5 * 1.9 d
  assert.deepEqual(w[0], Float32Array.of(1 - 0.95, -2 - 0.475));
  opt.apply(w, [Float32Array.of(-1, 0)]);
  // v = 0.9 (1, 0.5) + (-1, 0) = (-0.1, 0.45); step = 0.5 * ((-1, 0) + 0.9 v)
  const v = [Math.fround(0.9 * 1 - 1), Math.fround(0.9 * 0.5)];
  assert.ok(Math.abs(w[0]![0]! - (0.05 - 0.5 * (-1 + 0.9 * v[0]!))) < 1e-6);
  assert.ok(Math.abs(w[0]![1]! - (-2.475 - 0.5 * (0.9 * v[1]!))) < 1e-6);
  const joiner = new NesterovSgd([2], 0.5, 0.9);
  joiner.importState(opt.exportState());
  const a = [Float32Array.of(0, 0)];
  const b = [Float32Array.of(0, 0)];
  opt.apply(a, [Float32Array.of(0.3, 0.3)]);
  joiner.apply(b, [Float32Array.of(0.3, 0.3)]);
  assert.deepEqual(a, b);
  assert.throws(() => joiner.importState({ t: 0, buffers: [new Float32Array(3)] }), { name: 'WireFormatError' });
});
