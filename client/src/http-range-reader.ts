/**
 * Reads byte ranges of one file over HTTP: many ranges per request (`Range: bytes=a-b,c-d,...`,
 * answered as multipart/byteranges), a few requests at a time, each with a deadline and retried
 * on failure. A server that ignores ranges (200, the whole file) still works: that answer serves
 * the whole read, and the traffic says what it cost.
 */
import { assemble, DataError, deadline, multipartBoundary, parseContentRange, parseMultipart, rangeHeader, type ByteRange, type RangePart, type RangeReader, type Traffic } from '@tabswarm/shared';

export interface HttpRangeReaderInit {
  /**
   * Ranges per request: each costs ~18 bytes of header, and servers cap request headers (Node at
   * 16 KiB). @default 400
   */
  rangesPerRequest?: number;
  /** Requests in flight at once. @default 4 */
  concurrency?: number;
  /** Deadline of one request. @default 30 s */
  requestTimeoutMs?: number;
  /** Attempts per request before the read fails. @default 3 */
  attempts?: number;
}

export class HttpRangeReader implements RangeReader {
  readonly traffic: Traffic = { bytes: 0, requests: 0 };
  private readonly rangesPerRequest: number;
  private readonly concurrency: number;
  private readonly requestTimeoutMs: number;
  private readonly attempts: number;
  /** False once the server answered a multi-range request with fewer ranges than asked. */
  private multiRange = true;

  constructor(readonly url: string, init: HttpRangeReaderInit = {}) {
    this.rangesPerRequest = init.rangesPerRequest ?? 400;
    this.concurrency = init.concurrency ?? 4;
    this.requestTimeoutMs = init.requestTimeoutMs ?? 30_000;
    this.attempts = init.attempts ?? 3;
  }

  async read(ranges: readonly ByteRange[], signal: AbortSignal): Promise<Uint8Array> {
    if (ranges.length === 0) return new Uint8Array(0);
    const groups: ByteRange[][] = [];
    for (let i = 0; i < ranges.length; i += this.rangesPerRequest) groups.push(ranges.slice(i, i + this.rangesPerRequest));
    const answers: Uint8Array[] = new Array<Uint8Array>(groups.length);
    if (!this.multiRange) return assemble(ranges, (await this.fetchGroup(null, signal)).parts);
    // The first request alone: if the server ignores ranges, its whole file answers every group.
    const first = await this.fetchGroup(groups[0]!, signal);
    if (first.whole) return assemble(ranges, first.parts);
    if (!covers(groups[0]!, first.parts)) {
      // A server that serves one range of the many asked (Vite's dev server does): whole files from now on.
      this.multiRange = false;
      return assemble(ranges, (await this.fetchGroup(null, signal)).parts);
    }
    answers[0] = assemble(groups[0]!, first.parts);
    let next = 1;
    const worker = async (): Promise<void> => {
      while (next < groups.length) {
        const g = next++;
        answers[g] = assemble(groups[g]!, (await this.fetchGroup(groups[g]!, signal)).parts);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, groups.length - 1) }, worker));
    const out = new Uint8Array(answers.reduce((n, a) => n + a.length, 0));
    let at = 0;
    for (const a of answers) {
      out.set(a, at);
      at += a.length;
    }
    return out;
  }

  /** One request (of `group`, or the whole file), retried: the parts it returned, and whether they are the whole file. */
  private async fetchGroup(group: readonly ByteRange[] | null, signal: AbortSignal): Promise<{ parts: RangePart[]; whole: boolean }> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      const limit = deadline(this.requestTimeoutMs, `fetching ${group ? `${group.length} ranges of ` : ''}${this.url}`, signal);
      try {
        const headers: Record<string, string> = group ? { Range: rangeHeader(group) } : {};
        const response = await fetch(this.url, { headers, signal: limit.signal, cache: 'no-store' });
        const body = new Uint8Array(await response.arrayBuffer());
        this.traffic.bytes += body.length;
        this.traffic.requests++;
        if (response.status === 200) return { parts: [{ start: 0, bytes: body }], whole: true };
        if (response.status !== 206) throw new DataError(`${this.url}: HTTP ${response.status}`);
        const boundary = multipartBoundary(response.headers.get('content-type'));
        const parts = boundary ? parseMultipart(body, boundary) : [{ start: parseContentRange(response.headers.get('content-range')).start, bytes: body }];
        return { parts, whole: false };
      } catch (err) {
        // The caller's abort (a new epoch, closing) ends the read; anything else is tried again.
        if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : err;
        lastError = err;
      } finally {
        limit.clear();
      }
    }
    const why = lastError instanceof Error ? `${lastError.name}: ${lastError.message}` : String(lastError);
    throw new DataError(`${this.url}: ${this.attempts} attempts failed, the last with ${why}`);
  }
}

/** Whether `parts` hold every byte of `ranges`. */
function covers(ranges: readonly ByteRange[], parts: readonly RangePart[]): boolean {
  return ranges.every((r) => parts.some((p) => p.start <= r.start && p.start + p.bytes.length >= r.end));
}
