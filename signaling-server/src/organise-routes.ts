/**
 * The organiser page on HTTP, behind the admin token (HTTP Basic, the token as password): the page
 * itself (`/organise`, the client build's organise.html) and its JSON API (organiser.ts does the
 * work; shared/src/protocol/organise.ts has the types). Without the token: 401 and nothing else.
 * Writes need a JSON body from this server's own origin, which a page of another site cannot send
 * with the browser's remembered credentials (no CORS preflight is ever answered).
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import QRCode from 'qrcode';
import { z } from 'zod';
import { errorMessage, isSignalingErrorName, ORGANISE_API, ORGANISE_PATH, ROOM_NAME_PATTERN, ValidationError, type OrganiserErrorBody, type UploadedModel } from '@tabswarm/shared/protocol';
import type { ModelStore } from './model-store.ts';
import type { AdminToken } from './admin-token.ts';
import type { Logger } from './log.ts';
import type { Organiser } from './organiser.ts';
import { sendText } from './static-files.ts';

/** Largest request body but a model's: a room name and a few dozen configuration keys. */
const MAX_BODY_BYTES = 16 * 1024;

export interface OrganiseRoutes {
  token: AdminToken;
  organiser: Organiser;
  models: ModelStore;
  staticDir: string;
  trustProxy: boolean;
  log: Logger;
}

const createSchema = z.object({
  room: z.string().regex(ROOM_NAME_PATTERN, 'must be 1..64 characters of A-Z a-z 0-9 _ . -'),
  config: z.record(z.string().max(64), z.string().max(64)).refine((c) => Object.keys(c).length <= 64, 'must have at most 64 keys'),
});
const uploadSchema = z.object({
  modelJson: z.string().min(2),
  weights: z.record(z.string().min(1).max(256), z.base64()).refine((w) => Object.keys(w).length <= 64, 'must have at most 64 files'),
});
const removeSchema = z.object({ room: z.string().regex(ROOM_NAME_PATTERN), peerId: z.string().min(1).max(64) });

/** Whether `path` is the organiser's; then the request is answered here. */
export function isOrganisePath(path: string): boolean {
  return path === ORGANISE_PATH || path === `${ORGANISE_PATH}.html` || path.startsWith(`${ORGANISE_PATH}/`);
}

/** Answers a request for an organiser path; never rejects. */
export async function serveOrganise(routes: OrganiseRoutes, req: IncomingMessage, res: ServerResponse): Promise<void> {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  if (!routes.token.allows(req)) {
    res.setHeader('WWW-Authenticate', 'Basic realm="tabswarm organiser", charset="UTF-8"');
    return sendText(res, 401, 'the organiser page needs the admin token (the server printed it at start) as the password\n');
  }
  const url = new URL(req.url ?? '/', 'http://organiser');
  const base = baseUrl(req, routes.trustProxy);
  try {
    if (req.method === 'GET' && (url.pathname === ORGANISE_PATH || url.pathname === `${ORGANISE_PATH}.html`)) return await sendPage(routes.staticDir, res);
    if (req.method === 'GET' && url.pathname === ORGANISE_API.rooms) return sendJson(res, 200, { rooms: routes.organiser.rooms(base) });
    if (req.method === 'GET' && url.pathname === ORGANISE_API.qr) {
      const room = url.searchParams.get('room') ?? '';
      if (!ROOM_NAME_PATTERN.test(room)) throw new ValidationError('room must be 1..64 characters of A-Z a-z 0-9 _ . -');
      const svg = await QRCode.toString(routes.organiser.invite(room, base), { type: 'svg', margin: 2, errorCorrectionLevel: 'M' });
      return sendText(res, 200, svg, 'image/svg+xml');
    }
    if (req.method === 'POST' && url.pathname === ORGANISE_API.models) {
      checkSameOrigin(req, base);
      // Base64 grows a model file by a third; the store checks the decoded sizes.
      const { modelJson, weights } = parseBody(uploadSchema, await readJson(req, Math.ceil(routes.models.limits.maxBytes * 4 / 3) + MAX_BODY_BYTES), 'model');
      const model = routes.models.add(modelJson, new Map(Object.entries(weights).map(([name, data]) => [name, Buffer.from(data, 'base64')])));
      routes.log.info(`model ${model.task} uploaded by the organiser`, { event: 'model', task: model.task });
      return sendJson(res, 201, { task: model.task, layers: model.layers, parameters: model.parameters } satisfies UploadedModel);
    }
    if (req.method === 'POST' && (url.pathname === ORGANISE_API.rooms || url.pathname === ORGANISE_API.remove)) {
      checkSameOrigin(req, base);
      const body = await readJson(req, MAX_BODY_BYTES);
      if (url.pathname === ORGANISE_API.rooms) {
        const { room, config } = parseBody(createSchema, body, 'room');
        return sendJson(res, 201, routes.organiser.create(room, config, base));
      }
      const { room, peerId } = parseBody(removeSchema, body, 'remove');
      routes.organiser.remove(room, peerId);
      routes.log.info(`removed room=${room} peer=${peerId} by the organiser`, { event: 'remove', room, peer: peerId });
      return sendJson(res, 200, { removed: peerId });
    }
    return sendText(res, 404, 'not found\n');
  } catch (err) {
    if (err instanceof Error && isSignalingErrorName(err.name)) {
      const status = err.name === 'NotInRoomError' ? 404 : 400;
      return sendJson(res, status, { error: { name: err.name, message: err.message.slice(0, 300) } } satisfies OrganiserErrorBody);
    }
    routes.log.error(`organise ${req.method} ${url.pathname.slice(0, 64)}: ${errorMessage(err)}`);
    return sendJson(res, 500, { error: { name: 'InternalError', message: 'internal server error' } } satisfies OrganiserErrorBody);
  }
}

/** `http://host:port` as the organiser's browser reached this server (invite links start with it). */
function baseUrl(req: IncomingMessage, trustProxy: boolean): string {
  const forwarded = trustProxy ? String(req.headers['x-forwarded-proto'] ?? '').split(',')[0]?.trim() : '';
  const proto = forwarded === 'https' ? 'https' : 'http';
  const host = /^[A-Za-z0-9.\-:[\]]{1,255}$/.test(req.headers.host ?? '') ? req.headers.host! : '127.0.0.1';
  return `${proto}://${host}`;
}

/** A write from a page of another origin is refused: the browser would send the organiser's credentials with it. */
function checkSameOrigin(req: IncomingMessage, base: string): void {
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== base) throw new ValidationError('the request comes from another origin');
  if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) throw new ValidationError('the body must be application/json');
}

async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new ValidationError(`the body is over ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new ValidationError('the body is not JSON');
  }
}

function parseBody<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.join('.') : 'body';
  throw new ValidationError(`${what}: ${field} ${(issue?.message ?? 'is invalid').slice(0, 120)}`);
}

async function sendPage(staticDir: string, res: ServerResponse): Promise<void> {
  const html = await readFile(join(staticDir, 'organise.html'), 'utf8').catch(() => undefined);
  if (html === undefined) return sendText(res, 404, 'tabswarm: the client is not built yet (npm run build)\n');
  sendText(res, 200, html, 'text/html; charset=utf-8');
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  sendText(res, status, JSON.stringify(body), 'application/json; charset=utf-8');
}
