/**
 * The non-finite rule every aggregator keeps (docs/ALGORITHMS.md, Conventions):
 * - a step whose shared values (all-reduced sums, the update, the shared state it would commit)
 *   hold NaN or Infinity commits nothing and rejects with NonFiniteError. Those values have
 *   identical bits on every peer, so every peer refuses the same step and the replicas stay in
 *   lockstep;
 * - a member's local state (e_i, g_i, h_i) only this member computes: if its own f32 arithmetic
 *   overflows while everything shared stayed finite, refusing there alone would split the
 *   replicas, so the overflowed entries are repaired in place instead (`repairLocal`).
 */
import { NonFiniteError } from '../errors.ts';

/** Throws NonFiniteError naming `what` unless every entry of every array is finite. */
export function requireFinite(what: string, arrays: readonly Float32Array[]): void {
  arrays.forEach((a, l) => {
    for (let j = 0; j < a.length; j++) {
      if (!Number.isFinite(a[j]!)) throw new NonFiniteError(`${what} holds ${a[j]} at ${j} of part ${l}; step refused`);
    }
  });
}

/**
 * Replaces, in place, every non-finite entry of a member's local state by `fallback`'s entry (the
 * shared value a joiner would take) or by 0 (an error memory dropped, as a joiner's starts).
 */
export function repairLocal(local: Float32Array, fallback?: Float32Array): Float32Array {
  for (let j = 0; j < local.length; j++) if (!Number.isFinite(local[j]!)) local[j] = fallback ? fallback[j]! : 0;
  return local;
}
