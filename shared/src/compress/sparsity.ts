/** Entries kept by the sparsifiers: k = max(1, round(ratio * d)), never more than d. */
export function keptEntries(ratio: number, d: number): number {
  if (d === 0) return 0;
  return Math.min(d, Math.max(1, Math.round(ratio * d)));
}
