/**
 * Seeded, portable randomness. Every peer derives the same stream for the same
 * (run seed, step, layer, purpose), so shared random matrices and index sets agree bit for bit.
 * Never use Math.random in anything that decides shared state.
 */

/** 32-bit hash of a list of integers/strings (FNV-1a mixed with murmur3's finalizer). */
export function hash32(...parts: Array<number | string>): number {
  let h = 0x811c9dc5;
  const mixByte = (b: number): void => {
    h ^= b & 0xff;
    h = Math.imul(h, 0x01000193);
  };
  for (const part of parts) {
    if (typeof part === 'number') {
      const v = part >>> 0;
      const hi = Math.floor(part / 0x100000000) >>> 0;
      for (let i = 0; i < 4; i++) mixByte(v >>> (8 * i));
      for (let i = 0; i < 4; i++) mixByte(hi >>> (8 * i));
    } else {
      for (let i = 0; i < part.length; i++) {
        const c = part.charCodeAt(i);
        mixByte(c);
        mixByte(c >>> 8);
      }
    }
    mixByte(0xa5); // separator, so ('ab','c') and ('a','bc') differ
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** sfc32: small, fast, passes PractRand to 2^40+; state is four 32-bit words. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spareGaussian: number | undefined;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** A stream derived from a seed and a purpose path, e.g. `Rng.derive(seed, step, layer, 'powersgd-q')`. */
  static derive(seed: number, ...path: Array<number | string>): Rng {
    return new Rng(hash32(seed, ...path));
  }

  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /**
   * Fills `out` with exactly what as many nextUint32() calls would return, in one loop that keeps
   * the state in locals: hot paths (QSGD's one draw per entry) then pay no call or property access per draw.
   */
  fillUint32(out: Uint32Array): Uint32Array {
    let a = this.a | 0;
    let b = this.b | 0;
    let c = this.c | 0;
    let d = this.d | 0;
    // The state stays in int32 locals (| 0 instead of >>> 0: the same bits mod 2^32), which V8
    // keeps in registers; uint32 values above 2^31 would be doubles.
    for (let i = 0; i < out.length; i++) {
      const t = (a + b + d) | 0;
      d = (d + 1) | 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) | 0;
      c = (c << 21) | (c >>> 11);
      c = (c + t) | 0;
      out[i] = t;
    }
    this.a = a >>> 0;
    this.b = b >>> 0;
    this.c = c >>> 0;
    this.d = d >>> 0;
    return out;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal by Box-Muller. V8 (Chromium and Node) computes log/sin/cos with the same fdlibm port everywhere, so peers agree bit for bit. */
  gaussian(): number {
    if (this.spareGaussian !== undefined) {
      const g = this.spareGaussian;
      this.spareGaussian = undefined;
      return g;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareGaussian = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Fills `out` with N(0, std^2) values. */
  fillGaussian(out: Float32Array | Float64Array, std = 1): typeof out {
    for (let i = 0; i < out.length; i++) out[i] = this.gaussian() * std;
    return out;
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T>(items: T[] | Int32Array | Uint32Array): typeof items {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = items[i]!;
      items[i] = items[j]!;
      items[j] = t;
    }
    return items;
  }

  /** k distinct indices from [0, n), sorted ascending (Floyd's algorithm). */
  sample(n: number, k: number): Int32Array {
    if (k > n) throw new RangeError(`cannot sample ${k} of ${n}`);
    const chosen = new Set<number>();
    for (let j = n - k; j < n; j++) {
      const t = this.int(j + 1);
      chosen.add(chosen.has(t) ? j : t);
    }
    return Int32Array.from(chosen).sort();
  }
}
