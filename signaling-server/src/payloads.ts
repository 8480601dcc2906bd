/**
 * Boundary checks of what tabs send. Everything arrives as `unknown`, whatever the event map says:
 * any client can emit anything.
 */
import { MAX_NAME_LENGTH, MAX_REPORT_LENGTH, MAX_KNOWN_PEERS, MAX_SIGNAL_BYTES, MAX_TOKEN_LENGTH, ROOM_NAME_PATTERN, ValidationError, type JoinRequest, type RejoinRequest, type RelayRequest, type ReportRequest, type ResyncRequest } from '@tabswarm/shared/protocol';

function invalid(message: string): ValidationError {
  return new ValidationError(message);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function payloadObject(value: unknown, event: string): Record<string, unknown> {
  if (!isPlainObject(value)) throw invalid(`${event} payload must be an object`);
  return value;
}

function roomName(room: unknown): string {
  if (typeof room !== 'string' || !ROOM_NAME_PATTERN.test(room)) {
    throw invalid('room must be 1..64 characters of A-Z a-z 0-9 _ . -');
  }
  return room;
}

function displayName(name: unknown): string | undefined {
  if (name !== undefined && (typeof name !== 'string' || name.length > MAX_NAME_LENGTH)) {
    throw invalid(`name must be a string of at most ${MAX_NAME_LENGTH} characters`);
  }
  return name;
}

function isPeerId(value: unknown): value is string {
  // Peer ids are 32 characters; the bound keeps error messages that quote one short.
  return typeof value === 'string' && value.length > 0 && value.length <= 64;
}

function count(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw invalid(`${what} must be a non-negative integer`);
  return value;
}

export function parseJoinRequest(value: unknown): JoinRequest {
  const { room, config, name } = payloadObject(value, 'room:join');
  if (config !== undefined && !isPlainObject(config)) throw invalid('config must be an object');
  return { room: roomName(room), config, name: displayName(name) };
}

/** The room name of a `room:join`, if the payload has a valid one (to hold a join back while its room is rebuilt). */
export function joinedRoomName(value: unknown): string | undefined {
  const room = isPlainObject(value) ? value.room : undefined;
  return typeof room === 'string' && ROOM_NAME_PATTERN.test(room) ? room : undefined;
}

export function parseRejoinRequest(value: unknown, maxMembers: number): RejoinRequest {
  const { room, peerId, token, config, epoch, members, step, hash, known, name } = payloadObject(value, 'room:rejoin');
  if (!isPeerId(peerId)) throw invalid('peerId must be a peer id');
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw invalid(`token must be a string of 1..${MAX_TOKEN_LENGTH} characters`);
  if (!isPlainObject(config)) throw invalid('config must be an object');
  if (!Array.isArray(members) || members.length === 0 || members.length > maxMembers || !members.every(isPeerId)) {
    throw invalid(`members must be 1..${maxMembers} peer ids`);
  }
  if (!members.includes(peerId) || new Set(members).size !== members.length) throw invalid('members must list peerId, each id once');
  if (typeof hash !== 'string' || hash.length > MAX_TOKEN_LENGTH) throw invalid(`hash must be a string of at most ${MAX_TOKEN_LENGTH} characters`);
  if (known !== undefined && (!Array.isArray(known) || known.length > MAX_KNOWN_PEERS || !known.every(isPeerId))) {
    throw invalid(`known must be at most ${MAX_KNOWN_PEERS} peer ids`);
  }
  const request: RejoinRequest = {
    room: roomName(room), peerId, token, config, epoch: count(epoch, 'epoch'), members: [...members].sort(), step: count(step, 'step'), hash,
    ...(known === undefined ? {} : { known: [...known] }),
  };
  const named = displayName(name);
  return named === undefined ? request : { ...request, name: named };
}

export function parseRelayRequest(value: unknown): RelayRequest {
  const { to, data } = payloadObject(value, 'signal:relay');
  if (!isPeerId(to)) throw invalid('to must be a peer id');
  if (!isPlainObject(data)) throw invalid('data must be an object');
  if (jsonBytes(data) > MAX_SIGNAL_BYTES) throw invalid(`data must be at most ${MAX_SIGNAL_BYTES} bytes of JSON`);
  return { to, data };
}

export function parseReportRequest(value: unknown): ReportRequest {
  const { kind, text } = payloadObject(value, 'room:report');
  if (kind !== 'status') throw invalid('kind must be "status"');
  if (typeof text !== 'string' || text.length > MAX_REPORT_LENGTH) {
    throw invalid(`text must be a string of at most ${MAX_REPORT_LENGTH} characters`);
  }
  return { kind, text };
}

export function parseResyncRequest(value: unknown): ResyncRequest {
  const { epoch, suspect } = payloadObject(value, 'room:resync');
  if (typeof epoch !== 'number' || !Number.isInteger(epoch) || epoch < 0) throw invalid('epoch must be a non-negative integer');
  if (suspect !== undefined && (typeof suspect !== 'string' || suspect.length > 64)) throw invalid('suspect must be a peer id');
  return suspect === undefined ? { epoch } : { epoch, suspect };
}

function jsonBytes(value: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(value), 'utf8');
  } catch {
    // Too deeply nested to stringify: certainly no WebRTC signal.
    return Infinity;
  }
}
