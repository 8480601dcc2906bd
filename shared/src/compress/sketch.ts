/**
 * Randomized linear sketches (docs/ALGORITHMS.md, Sketches), per layer: each peer sends G_i Omega
 * (m x r) for a shared random Omega (n x r, drawn per (seed, step, layer)) with E[Omega Omega^T] = I,
 * and the average is decompressed as Y Omega^T: linear and unbiased. Vectors and layers that would
 * not shrink at least 2x (2r >= n) go uncompressed.
 */
import { Rng } from '../rng.ts';
import { layerSize, matrixView } from './layers.ts';
import { multiplyTransposed } from './linalg.ts';
import { matMul } from './tensor-ops.ts';
import type { CodecContext, LayerShape, LinearCodec } from './types.ts';

export interface SketchKind {
  id: number;
  name: string;
  /** Draws Omega (n x r, row-major) from `rng`. */
  draw(rng: Rng, n: number, r: number): Float32Array;
}

/** m x n x r of a layer the sketch compresses, or null when it is sent as is. */
export function sketchedView(layer: LayerShape, rank: number): { m: number; n: number; r: number } | null {
  const view = matrixView(layer);
  if (view === null || view.m === 0 || 2 * rank >= view.n) return null;
  return { ...view, r: rank };
}

export function createSketch(kind: SketchKind, rank: number): LinearCodec {
  const omegaOf = (n: number, r: number, ctx: CodecContext): Float32Array =>
    kind.draw(Rng.derive(ctx.seed, ctx.step, ctx.layerIndex, kind.name), n, r);
  return {
    id: kind.id,
    name: kind.name,
    linear: true,
    wire: 'f32',
    unbiased: true,
    messageBytes(layer) {
      const v = sketchedView(layer, rank);
      return 4 * (v === null ? layerSize(layer) : v.m * v.r);
    },
    /** omega = n/r - 1: exact for Haar, a bit below Gaussian's (n+1)/r (docs/ALGORITHMS.md, Sketches). */
    omega(layer) {
      const v = sketchedView(layer, rank);
      return v === null ? 0 : v.n / v.r - 1;
    },
    compress(x, layer, ctx) {
      const v = sketchedView(layer, rank);
      if (v === null) return x.slice();
      return matMul(x, v.m, v.n, omegaOf(v.n, v.r, ctx), v.n, v.r);
    },
    decompress(y, layer, ctx) {
      const v = sketchedView(layer, rank);
      if (v === null) return y.slice();
      return multiplyTransposed(y, omegaOf(v.n, v.r, ctx), v.m, v.r, v.n);
    },
  };
}
