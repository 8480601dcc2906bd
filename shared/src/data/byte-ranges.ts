/**
 * HTTP byte ranges (RFC 9110, section 14) as far as tabswarm uses them: a tab asks for many
 * examples of an IDX file in one request (`Range: bytes=a-b,c-d,...`), the server answers with a
 * `multipart/byteranges` body, and the tab cuts the parts out again. Pure functions on bytes, so
 * the server, the tab and the tests share one definition.
 */
import { WireFormatError } from '../errors.ts';

/** Bytes [start, end) of one file. */
export interface ByteRange {
  start: number;
  end: number;
}

/** One part of a multipart/byteranges body: bytes from `start` of the file. */
export interface RangePart {
  start: number;
  bytes: Uint8Array;
}

/** Ranges of the sorted indices `sorted`, record `i` at `offset + i * size`, runs of neighbours joined. */
export function recordRanges(sorted: ArrayLike<number>, offset: number, size: number): ByteRange[] {
  const ranges: ByteRange[] = [];
  for (let k = 0; k < sorted.length; k++) {
    const start = offset + sorted[k]! * size;
    const last = ranges.at(-1);
    if (last && last.end === start) last.end = start + size;
    else ranges.push({ start, end: start + size });
  }
  return ranges;
}

/** The `Range` header asking for `ranges` (end-inclusive on the wire). */
export function rangeHeader(ranges: readonly ByteRange[]): string {
  return `bytes=${ranges.map((r) => `${r.start}-${r.end - 1}`).join(',')}`;
}

/**
 * The ranges a `Range` header asks of a file of `size` bytes, clamped to it; null where the
 * header is not one we serve as ranges (another unit, malformed, more than `maxRanges`, or
 * overlapping or unordered ranges, which a server may answer with the whole file). An empty list:
 * nothing satisfiable (416).
 */
export function parseRangeHeader(header: string, size: number, maxRanges: number): ByteRange[] | null {
  const match = /^bytes=(.+)$/.exec(header.trim());
  if (!match) return null;
  const specs = match[1]!.split(',');
  if (specs.length > maxRanges) return null;
  const ranges: ByteRange[] = [];
  for (const spec of specs) {
    const m = /^\s*(\d*)-(\d*)\s*$/.exec(spec);
    if (!m || (m[1] === '' && m[2] === '')) return null;
    let start: number;
    let end: number;
    if (m[1] === '') {
      // A suffix: the last N bytes.
      start = Math.max(0, size - Number(m[2]));
      end = size;
    } else {
      start = Number(m[1]);
      if (m[2] !== '' && Number(m[2]) < start) return null;
      end = m[2] === '' ? size : Math.min(size, Number(m[2]) + 1);
    }
    if (start >= size || end <= start) continue;
    const last = ranges.at(-1);
    if (last && start < last.end) return null;
    ranges.push({ start, end });
  }
  return ranges;
}

/** The header block that opens one part of a multipart/byteranges body. */
export function partHead(boundary: string, range: ByteRange, size: number, contentType: string): string {
  return `\r\n--${boundary}\r\nContent-Type: ${contentType}\r\nContent-Range: bytes ${range.start}-${range.end - 1}/${size}\r\n\r\n`;
}

/** The line that closes a multipart/byteranges body. */
export function closingLine(boundary: string): string {
  return `\r\n--${boundary}--\r\n`;
}

/** The boundary of a `multipart/byteranges; boundary=...` content type, or null for another type. */
export function multipartBoundary(contentType: string | null): string | null {
  const m = /^\s*multipart\/byteranges\s*;(?:.*;)?\s*boundary="?([^";]+)"?/i.exec(contentType ?? '');
  return m ? m[1]! : null;
}

/** `bytes a-b/size` of a Content-Range header as [a, b + 1). */
export function parseContentRange(value: string | null): ByteRange {
  const m = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(value ?? '');
  if (!m) throw new WireFormatError(`not a byte Content-Range: ${JSON.stringify(value)}`);
  return { start: Number(m[1]), end: Number(m[2]) + 1 };
}

const CRLF_CRLF = [13, 10, 13, 10];

/** The parts of a multipart/byteranges body; throws WireFormatError on a malformed one. */
export function parseMultipart(body: Uint8Array, boundary: string): RangePart[] {
  const delimiter = ascii(`--${boundary}`);
  const parts: RangePart[] = [];
  let at = indexOf(body, delimiter, 0);
  if (at < 0) throw new WireFormatError('multipart body without its boundary');
  for (;;) {
    at += delimiter.length;
    if (body[at] === 45 && body[at + 1] === 45) return parts; // "--": the closing delimiter
    const headEnd = indexOf(body, CRLF_CRLF, at);
    if (headEnd < 0) throw new WireFormatError('multipart part without the end of its headers');
    const head = String.fromCharCode(...body.subarray(at, headEnd));
    const contentRange = /^content-range:(.*)$/im.exec(head)?.[1] ?? null;
    const range = parseContentRange(contentRange);
    const from = headEnd + 4;
    const to = from + (range.end - range.start);
    if (to > body.length) throw new WireFormatError('multipart part shorter than its Content-Range');
    parts.push({ start: range.start, bytes: body.subarray(from, to) });
    at = indexOf(body, delimiter, to);
    if (at < 0) throw new WireFormatError('multipart body without its closing boundary');
  }
}

/** Copies `ranges` out of `parts` (which must cover them), concatenated in order. */
export function assemble(ranges: readonly ByteRange[], parts: readonly RangePart[]): Uint8Array {
  const out = new Uint8Array(ranges.reduce((n, r) => n + r.end - r.start, 0));
  // By start, so each range's part is found by bisection: a shard's read is thousands of ranges
  // answered by as many parts, and a scan per range cost a throttled tab seconds.
  const sorted = [...parts].sort((a, b) => a.start - b.start);
  let offset = 0;
  for (const r of ranges) {
    const part = partCovering(sorted, r);
    if (!part) throw new WireFormatError(`the answer does not cover bytes ${r.start}-${r.end - 1}`);
    out.set(part.bytes.subarray(r.start - part.start, r.end - part.start), offset);
    offset += r.end - r.start;
  }
  return out;
}

/** The part of `sorted` (by start) that holds all of `range`: the last starting at or before it, if long enough. */
function partCovering(sorted: readonly RangePart[], range: ByteRange): RangePart | undefined {
  let lo = 0;
  let hi = sorted.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]!.start <= range.start) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  // Parts may overlap: an earlier one may be the one reaching far enough (in a server's usual
  // answer, disjoint parts, the first tried is it).
  for (let i = found; i >= 0; i--) {
    const part = sorted[i]!;
    if (part.start + part.bytes.length >= range.end) return part;
  }
  return undefined;
}

/** Header text is ASCII (the core has no TextEncoder: it runs without the DOM's or Node's types). */
function ascii(text: string): number[] {
  return Array.from(text, (c) => c.charCodeAt(0));
}

function indexOf(haystack: Uint8Array, needle: ArrayLike<number>, from: number): number {
  const first = needle[0]!;
  for (let i = haystack.indexOf(first, from); i >= 0 && i + needle.length <= haystack.length; i = haystack.indexOf(first, i + 1)) {
    let k = 1;
    while (k < needle.length && haystack[i + k] === needle[k]) k++;
    if (k === needle.length) return i;
  }
  return -1;
}
