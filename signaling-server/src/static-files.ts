/**
 * Serves the built client (a flat directory from `vite build`) with nothing but node:fs.
 * Only GET and HEAD; `/` is index.html; any `..` segment is refused before touching the disk.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { rangesToServe, sendRanges } from './range-response.ts';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

/** Anything else, notably the MNIST idx files, which have no extension. */
const BINARY = 'application/octet-stream';

const NOT_BUILT =
  'tabswarm: the client is not built yet.\n' +
  'Run `npm run build` (or `npm start`, which builds and serves), then reload this page.\n';

export function contentType(file: string): string {
  return CONTENT_TYPES[extname(file).toLowerCase()] ?? BINARY;
}

/** The decoded path of a request URL, or undefined if it is malformed or climbs with `..`. */
export function requestPath(url: string | undefined): string | undefined {
  const raw = (url ?? '/').split(/[?#]/, 1)[0] ?? '/';
  let path: string;
  try {
    path = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  if (!path.startsWith('/') || path.includes('\0')) return undefined;
  // Backslashes count as separators too, for the sake of Windows hosts.
  if (path.split(/[\\/]/).includes('..')) return undefined;
  return path;
}

export function sendText(res: ServerResponse, status: number, text: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

/** Answers one request from `root`; rejects only if the response stream fails midway. */
export async function serveStatic(root: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return sendText(res, 405, 'method not allowed\n');
  }
  const path = requestPath(req.url);
  if (path === undefined) return sendText(res, 400, 'bad request path\n');

  // Checked per request, so building while the server runs just works.
  const base = resolve(root);
  if (!(await isDirectory(base))) {
    return path === '/' ? sendText(res, 200, NOT_BUILT) : sendText(res, 404, 'not found\n');
  }
  const file = join(base, path === '/' ? 'index.html' : path);
  if (!file.startsWith(base + sep)) return sendText(res, 400, 'bad request path\n');
  const stats = await stat(file).catch(() => undefined);
  if (!stats?.isFile()) return sendText(res, 404, 'not found\n');

  // A rebuilt client should show up on reload, without stale cached bundles.
  res.setHeader('Cache-Control', 'no-cache');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  // Tabs fetch the examples of their shard by range (range-response.ts).
  res.setHeader('Accept-Ranges', 'bytes');
  const ranges = rangesToServe(req.headers.range, stats.size);
  if (ranges) return sendRanges(res, file, stats.size, ranges, contentType(file), req.method === 'HEAD');
  res.writeHead(200, { 'Content-Type': contentType(file), 'Content-Length': stats.size });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  await pipeline(createReadStream(file), res);
}
