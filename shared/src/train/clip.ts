/**
 * Global-norm clipping (`clip`, room configuration): every honest member scales its own gradient
 * so that its L2 norm over all layers is at most `clip` before it compresses and sends it. Then
 * an honest member's contribution is bounded, and so is every sum of them: a ring Reduce segment
 * after h hops holds a partial sum of h+1 contributions, so its norm is at most (h+1) x clip, and
 * the average at most clip (for the dense wire: compressor none or fp16 without error feedback;
 * a compressor's message has a norm of its own, see docs/ALGORITHMS.md). A receiver may refuse a
 * segment over that bound and blame its sender; a bounded but wrong contribution it cannot tell.
 */
import type { RunConfig } from './config.ts';

/** Scales `grads` in place so their global L2 norm is at most `maxNorm` (0 = off); returns the norm before. */
export function clipGlobalNorm(grads: Float32Array[], maxNorm: number): number {
  let sq = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sq += g[i]! * g[i]!;
  const norm = Math.sqrt(sq);
  if (maxNorm > 0 && norm > maxNorm) {
    const scale = maxNorm / norm;
    for (const g of grads) for (let i = 0; i < g.length; i++) g[i] = g[i]! * scale;
  }
  return norm;
}

/**
 * The largest L2 norm a sum of `contributions` clipped gradients can have (Infinity when
 * clipping is off): the bound a receiver checks a partial sum against. f32 rounding of the
 * scaled values may exceed the exact bound by a few ulps, hence the small slack.
 */
export function clippedSumBound(clip: number, contributions: number): number {
  return clip > 0 ? contributions * clip * (1 + 1e-5) : Infinity;
}

/**
 * The largest magnitude a value of one member's message may have, when the room's wire carries
 * clipped gradients as they are (compressor none or fp16, no error feedback): every entry of a
 * gradient of norm at most `clip` is at most `clip`. The ring checks each received chunk against
 * it (times the contributions summed so far) and blames a sender over it. Undefined when clipping
 * is off or messages are something else (factors, scales, residuals, a round's sums), which no
 * clip bounds.
 */
export function messageValueBound(config: Pick<RunConfig, 'clip' | 'compressor' | 'ef' | 'sync'>): number | undefined {
  const dense = config.compressor === 'none' || config.compressor === 'fp16';
  // Round modes send sums of many gradients or pseudo-gradients, which one clip does not bound.
  return config.clip > 0 && dense && config.ef === 'none' && config.sync === 'step' ? config.clip : undefined;
}
