/**
 * Boundary checks of what tabs send, as zod schemas: everything arrives as `unknown`, whatever the
 * event map says, since any client can emit anything. A payload that does not fit is a
 * ValidationError naming the field; its message never quotes the value.
 */
import { z } from 'zod';
import { MAX_BACKEND_NAME_LENGTH, MAX_NAME_LENGTH, MAX_REPORT_LENGTH, MAX_KNOWN_PEERS, MAX_SIGNAL_BYTES, MAX_TOKEN_LENGTH, ROOM_NAME_PATTERN, ValidationError, type FinishedRun, type JoinRequest, type PreviewRequest, type RejoinRequest, type RelayRequest, type ReportRequest, type ResyncRequest } from '@tabswarm/shared/protocol';

/** Longest join ticket: an expiry and a base64url HMAC are far shorter. */
export const MAX_TICKET_LENGTH = 256;
/** Most keys of a proposed config: the run configuration has a few dozen. */
const MAX_CONFIG_KEYS = 64;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A signal's size as UTF-8 JSON (Infinity if it cannot be stringified). */
export function signalBytes(value: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(value), 'utf8');
  } catch {
    // Too deeply nested to stringify: certainly no WebRTC signal.
    return Infinity;
  }
}

const roomName = z.string().regex(ROOM_NAME_PATTERN, 'must be 1..64 characters of A-Z a-z 0-9 _ . -');
// Peer ids are 32 characters; the bound keeps error messages that quote one short.
const peerId = z.string().min(1).max(64);
const count = z.number().int().nonnegative();
const displayName = z.string().max(MAX_NAME_LENGTH).optional();
const ticket = z.string().min(1).max(MAX_TICKET_LENGTH).optional();
const configObject = z.custom<Record<string, unknown>>((v) => isPlainObject(v) && Object.keys(v).length <= MAX_CONFIG_KEYS, `must be an object of at most ${MAX_CONFIG_KEYS} keys`);

const joinSchema = z.object({ room: roomName, config: configObject.optional(), name: displayName, ticket, role: z.enum(['member', 'observer']).optional() });

const finishedSchema = z.object({ step: count, hash: z.string().regex(/^[0-9a-f]{16}$/, 'must be 16 hex digits'), testAccuracy: z.number().min(0).max(1).nullable() });

const relaySchema = z.object({
  to: peerId,
  data: z.custom<Record<string, unknown>>(isPlainObject, 'must be an object')
    .refine((d) => signalBytes(d) <= MAX_SIGNAL_BYTES, `must be at most ${MAX_SIGNAL_BYTES} bytes of JSON`),
});

const previewSchema = z.object({ room: roomName, config: configObject.optional(), ticket });

/** Largest count in a progress report: no run has more steps or bytes per step than this. */
const MAX_REPORTED = 2 ** 48;
const reportSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('status'), text: z.string().max(MAX_REPORT_LENGTH) }),
  z.object({
    kind: z.literal('progress'),
    step: count.max(MAX_REPORTED),
    accuracy: z.number().min(0).max(1).nullable(),
    stepsPerSecond: z.number().nonnegative().max(1e6).nullable(),
    bytesPerStep: count.max(MAX_REPORTED),
    backend: z.string().max(MAX_BACKEND_NAME_LENGTH).nullable(),
  }),
]);

const resyncSchema = z.object({ epoch: count, suspect: peerId.optional() });

function rejoinSchema(maxMembers: number) {
  return z.object({
    room: roomName,
    peerId,
    token: z.string().min(1).max(MAX_TOKEN_LENGTH),
    config: configObject,
    epoch: count,
    members: z.array(peerId).min(1).max(maxMembers),
    step: count,
    hash: z.string().max(MAX_TOKEN_LENGTH),
    known: z.array(peerId).max(MAX_KNOWN_PEERS).optional(),
    name: displayName,
    ticket,
  }).refine((r) => r.members.includes(r.peerId) && new Set(r.members).size === r.members.length, { message: 'must list peerId, each id once', path: ['members'] });
}

/** Parses `value` with `schema`, or throws ValidationError naming the event and the first bad field. */
function parse<T>(schema: z.ZodType<T>, value: unknown, event: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.join('.') : 'payload';
  // zod's messages name types and bounds, never the value sent.
  throw new ValidationError(`${event}: ${field} ${(issue?.message ?? 'is invalid').slice(0, 120)}`);
}

export function parseJoinRequest(value: unknown): JoinRequest {
  const { room, config, name, ticket: presented, role } = parse(joinSchema, value, 'room:join');
  return { room, config, name, ...(presented === undefined ? {} : { ticket: presented }), ...(role === undefined ? {} : { role }) };
}

export function parseFinishedReport(value: unknown): FinishedRun {
  return parse(finishedSchema, value, 'room:finished');
}

export function parsePreviewRequest(value: unknown): PreviewRequest {
  const { room, config, ticket: presented } = parse(previewSchema, value, 'room:preview');
  return { room, ...(config === undefined ? {} : { config }), ...(presented === undefined ? {} : { ticket: presented }) };
}

/** The room name of a `room:join`, if the payload has a valid one (to hold a join back while its room is rebuilt). */
export function joinedRoomName(value: unknown): string | undefined {
  const room = isPlainObject(value) ? value.room : undefined;
  return typeof room === 'string' && ROOM_NAME_PATTERN.test(room) ? room : undefined;
}

const rejoinSchemas = new Map<number, ReturnType<typeof rejoinSchema>>();

export function parseRejoinRequest(value: unknown, maxMembers: number): RejoinRequest {
  let schema = rejoinSchemas.get(maxMembers);
  if (!schema) rejoinSchemas.set(maxMembers, (schema = rejoinSchema(maxMembers)));
  const { known, name, ticket: presented, members, ...rest } = parse(schema, value, 'room:rejoin');
  return {
    ...rest, members: [...members].sort(),
    ...(known === undefined ? {} : { known: [...known] }),
    ...(name === undefined ? {} : { name }),
    ...(presented === undefined ? {} : { ticket: presented }),
  };
}

export function parseRelayRequest(value: unknown): RelayRequest {
  return parse(relaySchema, value, 'signal:relay');
}

export function parseReportRequest(value: unknown): ReportRequest {
  return parse(reportSchema, value, 'room:report');
}

export function parseResyncRequest(value: unknown): ResyncRequest {
  const { epoch, suspect } = parse(resyncSchema, value, 'room:resync');
  return suspect === undefined ? { epoch } : { epoch, suspect };
}
