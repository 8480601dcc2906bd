/**
 * Answers a file request that carries a `Range` header (RFC 9110, section 14): one range as a
 * 206 with Content-Range, several as multipart/byteranges. Tabs fetch the examples of their shard
 * this way, hundreds of ranges per request, instead of the whole MNIST training file.
 */
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { closingLine, parseRangeHeader, partHead, type ByteRange } from '@tabswarm/shared/protocol';

/**
 * More ranges than this in one request are answered with the whole file (as Apache's MaxRanges
 * does): a bound on the work one request can ask for. Node caps request headers at 16 KiB anyway.
 */
export const MAX_RANGES = 1000;

/**
 * The ranges to answer `header` with for a file of `size` bytes: null to send the whole file
 * (no usable Range header), an empty list for 416.
 */
export function rangesToServe(header: string | undefined, size: number): ByteRange[] | null {
  if (header === undefined) return null;
  return parseRangeHeader(header, size, MAX_RANGES);
}

/** Writes a 206 (or 416) answer for `ranges` of `file`; the caller has set the other headers. */
export async function sendRanges(res: ServerResponse, file: string, size: number, ranges: ByteRange[], contentType: string, headOnly: boolean): Promise<void> {
  if (ranges.length === 0) {
    res.writeHead(416, { 'Content-Range': `bytes */${size}`, 'Content-Length': 0 });
    res.end();
    return;
  }
  const single = ranges.length === 1 ? ranges[0]! : null;
  const boundary = randomBytes(12).toString('hex');
  const heads = single ? [] : ranges.map((r) => Buffer.from(partHead(boundary, r, size, contentType)));
  const tail = Buffer.from(closingLine(boundary));
  const payload = ranges.reduce((n, r) => n + r.end - r.start, 0);
  const length = single ? payload : payload + heads.reduce((n, h) => n + h.length, 0) + tail.length;
  res.writeHead(206, {
    'Content-Type': single ? contentType : `multipart/byteranges; boundary=${boundary}`,
    'Content-Length': length,
    ...(single ? { 'Content-Range': `bytes ${single.start}-${single.end - 1}/${size}` } : {}),
  });
  if (headOnly) {
    res.end();
    return;
  }
  const handle = await open(file, 'r');
  try {
    for (let i = 0; i < ranges.length; i++) {
      const r = ranges[i]!;
      if (!single) await write(res, heads[i]!);
      const bytes = Buffer.alloc(r.end - r.start);
      await handle.read(bytes, 0, bytes.length, r.start);
      await write(res, bytes);
    }
    if (!single) await write(res, tail);
  } finally {
    await handle.close();
  }
  res.end();
}

/** Writes with backpressure: waits for 'drain' when the socket's buffer is full. */
function write(res: ServerResponse, chunk: Buffer): Promise<void> {
  if (res.destroyed) return Promise.reject(new Error('the client went away'));
  if (res.write(chunk)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = (): void => done();
    const onClose = (): void => done(new Error('the client went away'));
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}
