/**
 * What a collective received, checked where it is decoded: the length against what the header and
 * the collective's plan imply, every value for finiteness and, where the caller gave one, its
 * bound. A violation is the sender's doing: PeerInputError names it as the suspect.
 */
import { PeerInputError } from '../errors.ts';
import { fromHalf } from './half.ts';

/** Largest finite f32: an f32 value is finite iff |v| <= this. */
const F32_MAX = 3.4028234663852886e38;

/**
 * `count` values of the `wire` type from a received payload, as f32. A view when the bytes are
 * aligned (no copy), else one copy; f16 is converted. Throws PeerInputError on a wrong length.
 */
export function decodeValues(payload: Uint8Array, count: number, wire: 'f32' | 'f16', from: string, what: string): Float32Array {
  const bytesPerValue = wire === 'f16' ? 2 : 4;
  if (payload.length !== count * bytesPerValue) {
    throw new PeerInputError(`${from} sent ${payload.length} bytes for ${what}, expected ${count * bytesPerValue} (${count} ${wire} values)`, from);
  }
  if (wire === 'f16') {
    const aligned = payload.byteOffset % 2 === 0 ? payload : payload.slice();
    return fromHalf(new Uint16Array(aligned.buffer, aligned.byteOffset, count));
  }
  const aligned = payload.byteOffset % 4 === 0 ? payload : payload.slice();
  return new Float32Array(aligned.buffer, aligned.byteOffset, count);
}

/**
 * What a received chunk may hold: at most `maxAbs` per contribution (times `contributions`, with
 * room for f32 rounding), never NaN (no sum of finite values makes one), and an infinity only where
 * an honest peer can produce one: a sum of two or more contributions overflowing f32, or a value
 * over 65504 rounded to a half. An honest overflow is then refused by the aggregator, identically
 * on every peer, not blamed on anyone.
 */
export function limitFor(maxAbs: number, contributions: number, wire: 'f32' | 'f16'): number {
  if (Number.isFinite(maxAbs)) return maxAbs * contributions * (1 + contributions * 2 ** -23);
  return contributions >= 2 || wire === 'f16' ? Infinity : F32_MAX;
}

/**
 * `target[i] += received[i]`, refusing a received value outside `limit` (see limitFor; NaN always).
 * The target may be left half summed: it is the collective's own buffer, thrown away with the
 * failed operation.
 */
export function addChecked(target: Float32Array, received: Float32Array, limit: number, from: string, what: string): void {
  for (let i = 0; i < target.length; i++) {
    const v = received[i]!;
    if (!(v <= limit && v >= -limit)) throw refused(v, i, limit, from, what);
    target[i] = target[i]! + v;
  }
}

/** Refuses `values` if any is outside `limit` (see limitFor; NaN always). */
export function checkValues(values: Float32Array, limit: number, from: string, what: string): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!(v <= limit && v >= -limit)) throw refused(v, i, limit, from, what);
  }
}

function refused(v: number, index: number, limit: number, from: string, what: string): PeerInputError {
  const why = Number.isNaN(v) ? 'not a number' : Number.isFinite(v) && limit < F32_MAX ? `over the bound ${limit}` : 'not finite';
  return new PeerInputError(`${from} sent ${v} at index ${index} of ${what}: ${why}`, from);
}
