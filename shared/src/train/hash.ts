/**
 * A 64-bit fingerprint of float arrays (two independent 32-bit multiplicative hashes over the raw
 * bits), shown as 16 hex digits. Replicas compare it to prove they hold identical weights.
 */
export function hashArrays(arrays: readonly Float32Array[]): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (const a of arrays) {
    const words = new Uint32Array(a.buffer, a.byteOffset, a.length);
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      h1 = Math.imul(h1 ^ w, 0x01000193);
      h2 = Math.imul(h2 ^ w, 0x5bd1e995) ^ (h2 >>> 15);
    }
    h1 = Math.imul(h1 ^ a.length, 0x01000193);
    h2 = Math.imul(h2 ^ a.length, 0x5bd1e995);
  }
  return (h1 >>> 0).toString(16).padStart(8, '0') + (h2 >>> 0).toString(16).padStart(8, '0');
}

/** True if any entry is NaN or +-Infinity. */
export function hasNonFinite(arrays: readonly Float32Array[]): boolean {
  for (const a of arrays) for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return true;
  return false;
}
