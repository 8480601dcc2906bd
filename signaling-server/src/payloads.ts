/**
 * Boundary checks of what tabs send. Everything arrives as `unknown`, whatever the event map says:
 * any client can emit anything.
 */
import { MAX_NAME_LENGTH, MAX_REPORT_LENGTH, MAX_SIGNAL_BYTES, ROOM_NAME_PATTERN, ValidationError, type JoinRequest, type RelayRequest, type ReportRequest, type ResyncRequest } from '@tabswarm/shared/protocol';

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

export function parseJoinRequest(value: unknown): JoinRequest {
  const { room, config, name } = payloadObject(value, 'room:join');
  if (typeof room !== 'string' || !ROOM_NAME_PATTERN.test(room)) {
    throw invalid('room must be 1..64 characters of A-Z a-z 0-9 _ . -');
  }
  if (config !== undefined && !isPlainObject(config)) throw invalid('config must be an object');
  if (name !== undefined && (typeof name !== 'string' || name.length > MAX_NAME_LENGTH)) {
    throw invalid(`name must be a string of at most ${MAX_NAME_LENGTH} characters`);
  }
  return { room, config, name };
}

export function parseRelayRequest(value: unknown): RelayRequest {
  const { to, data } = payloadObject(value, 'signal:relay');
  // Peer ids are 32 characters; the bound keeps error messages that quote `to` short.
  if (typeof to !== 'string' || to.length === 0 || to.length > 64) throw invalid('to must be a peer id');
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
