import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ModelFileError, TabswarmError } from '../errors.ts';
import { errorFromPayload, isSignalingErrorName, SIGNALING_ERRORS, type ErrorPayload, type SignalingErrorName } from './signaling.ts';

test('every signaling error name maps to a TabswarmError class of that name', () => {
  const names = Object.keys(SIGNALING_ERRORS) as SignalingErrorName[];
  assert.deepEqual(names.sort(), [
    'ConfigError', 'InternalError', 'ModelFileError', 'NotInRoomError', 'PeerIdTakenError', 'PeerNotFoundError', 'RateLimitError', 'RoomFullError', 'TicketError', 'TooManyRoomsError', 'UnknownRoomError', 'ValidationError',
  ]);
  for (const name of names) {
    const err = errorFromPayload({ name, message: `from the server (${name})` });
    assert.ok(err instanceof TabswarmError);
    assert.ok(err instanceof SIGNALING_ERRORS[name]);
    assert.equal(err.name, name);
    assert.equal(err.message, `from the server (${name})`);
  }
});

test('a ModelFileError keeps its reason across the wire', () => {
  const sent = new ModelFileError('layer "x" of class "Frobnicate" is not a layer class tfjs-layers can build', 'unknown-layer');
  const received = errorFromPayload({ name: sent.name, message: sent.message });
  assert.ok(received instanceof ModelFileError);
  assert.equal(received.reason, 'unknown-layer');
  assert.equal(received.message, sent.message);
});

test('an unknown name becomes a SignalingError that keeps the name', () => {
  const err = errorFromPayload({ name: 'QuotaError', message: 'too many runs today' });
  assert.ok(err instanceof TabswarmError);
  assert.equal(err.name, 'SignalingError');
  assert.equal(err.message, 'QuotaError: too many runs today');
  assert.equal((err as TabswarmError & { remoteName: string }).remoteName, 'QuotaError');
});

test('names of Object.prototype and malformed payloads are not signaling errors', () => {
  assert.equal(isSignalingErrorName('toString'), false);
  assert.equal(isSignalingErrorName('constructor'), false);
  assert.equal(isSignalingErrorName(7), false);
  assert.equal(errorFromPayload({ name: 'toString', message: 'x' }).name, 'SignalingError');
  const malformed = errorFromPayload({ name: 5, message: null } as unknown as ErrorPayload);
  assert.equal(malformed.name, 'SignalingError');
  assert.equal(malformed.message, 'UnknownError: ');
  assert.equal(errorFromPayload(null as unknown as ErrorPayload).name, 'SignalingError');
});
