/** How compressors see a layer, plus the small checks and byte counts every aggregator shares. */
import { NonFiniteError } from '../errors.ts';
import type { CollectiveBytes, LayerShape } from './types.ts';

/** Collective tags within one step. */
export const TAG_MAIN = 1;
export const TAG_SECOND = 2;
/** Dense rounds: GreedyLore's refresh, EF21's initialisation. */
export const TAG_DENSE = 3;

export function layerSize(layer: LayerShape): number {
  let d = 1;
  for (const dim of layer.shape) d *= dim;
  return d;
}

/**
 * A tensor of rank >= 2 is the row-major matrix m x n with n = last dim (dense kernels are
 * [in, out], conv kernels [h, w, in, out]); rank 0 and 1 are vectors (null).
 */
export function matrixView(layer: LayerShape): { m: number; n: number } | null {
  const { shape } = layer;
  if (shape.length < 2) return null;
  let m = 1;
  for (let i = 0; i < shape.length - 1; i++) m *= shape[i]!;
  return { m, n: shape[shape.length - 1]! };
}

export function checkLayers(layers: LayerShape[]): void {
  for (const layer of layers) {
    for (const dim of layer.shape) {
      if (!Number.isInteger(dim) || dim < 0) throw new RangeError(`layer ${layer.name} has a bad shape [${layer.shape.join(', ')}]`);
    }
  }
}

/** Rejects gradients of the wrong count or size, and non-finite ones, before anything is sent. */
export function checkGrads(grads: Float32Array[], layers: LayerShape[]): void {
  if (grads.length !== layers.length) throw new RangeError(`expected ${layers.length} gradients, got ${grads.length}`);
  for (let l = 0; l < layers.length; l++) {
    const g = grads[l]!;
    const layer = layers[l]!;
    if (g.length !== layerSize(layer)) throw new RangeError(`gradient of ${layer.name} has ${g.length} values, expected ${layerSize(layer)}`);
    for (let j = 0; j < g.length; j++) {
      if (!Number.isFinite(g[j]!)) throw new NonFiniteError(`gradient of ${layer.name} holds ${g[j]} at ${j}`);
    }
  }
}

/** See GradientAggregator.bytesPerStep. */
export function sentBytes(message: CollectiveBytes, peers: number): number {
  if (peers <= 1) return 0;
  return (2 * (peers - 1) * message.allReduce) / peers + (peers - 1) * message.allGather;
}

/** Concatenates Float32Arrays into one buffer (one collective call per phase). */
export function concat(parts: Float32Array[]): Float32Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Float32Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Splits `buffer` into consecutive views of the given lengths. */
export function split(buffer: Float32Array, lengths: number[]): Float32Array[] {
  const out: Float32Array[] = [];
  let offset = 0;
  for (const len of lengths) {
    out.push(buffer.subarray(offset, offset + len));
    offset += len;
  }
  if (offset !== buffer.length) throw new RangeError(`expected ${offset} values, got ${buffer.length}`);
  return out;
}

/** x / n element-wise, rounded to f32 (identical on every peer given identical x). */
export function divide(x: Float32Array | Float64Array, n: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let j = 0; j < x.length; j++) out[j] = x[j]! / n;
  return out;
}

/** a + b element-wise, rounded to f32. Plain loops: these run on every value of every step. */
export function add(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let j = 0; j < a.length; j++) out[j] = a[j]! + b[j]!;
  return out;
}

/** a - b element-wise, rounded to f32. */
export function subtract(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let j = 0; j < a.length; j++) out[j] = a[j]! - b[j]!;
  return out;
}

/** a + alpha * b element-wise (f64 arithmetic, rounded once to f32). */
export function addScaled(a: Float32Array, alpha: number, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let j = 0; j < a.length; j++) out[j] = a[j]! + alpha * b[j]!;
  return out;
}
