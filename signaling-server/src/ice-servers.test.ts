/**
 * ICE servers in the join and rejoin answers: TURN REST credentials (checked against HMAC-SHA1
 * computed here by WebCrypto, and a published test vector), renewed on rejoin, never the secret.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, type IceServer } from '@tabswarm/shared/protocol';
import { checkIceOptions, DEFAULT_TURN_TTL_SECONDS, iceServersFor, turnCredentials, turnPassword, type IceOptions } from './ice-servers.ts';
import { harness, joined, sleep, tryRejoin, LIMIT } from './testing.ts';

const SECRET = 'organiser-secret-4f2a';
const ICE: IceOptions = { stun: ['stun:stun.example.org:3478'], turn: { urls: ['turn:turn.example.org:3478', 'turns:turn.example.org:5349'], secret: SECRET, ttlSeconds: 600 } };

/** base64 HMAC-SHA1 by WebCrypto: another implementation than the server's node:crypto. */
async function webCryptoPassword(secret: string, username: string): Promise<string> {
  const encode = (text: string): Uint8Array => new TextEncoder().encode(text);
  const key = await crypto.subtle.importKey('raw', encode(secret), { name: 'HMAC', hash: 'SHA-1' }, false, ['sign']);
  return Buffer.from(await crypto.subtle.sign('HMAC', key, encode(username))).toString('base64');
}

/** The TURN entry of an answer, its username split into expiry and peer id. */
function turnEntry(servers: IceServer[]): { server: IceServer; expiry: number; peerId: string } {
  const server = servers.find((s) => s.urls.some((url) => url.startsWith('turn')));
  assert.ok(server?.username !== undefined && server.credential !== undefined, `a TURN entry with credentials in ${JSON.stringify(servers)}`);
  const [expiry, peerId] = server.username.split(':');
  return { server, expiry: Number(expiry), peerId: peerId! };
}

test('the TURN password is base64 HMAC-SHA1 of the username (RFC 2202 test case 2)', () => {
  // RFC 2202: HMAC-SHA1 with key "Jefe" of "what do ya want for nothing?".
  const digest = Buffer.from('effcdf6ae5eb2fa2d27416d5f184df9c259a7c79', 'hex').toString('base64');
  assert.equal(turnPassword('Jefe', 'what do ya want for nothing?'), digest);
});

test('credentials name the expiry and the peer, and match an independent HMAC', async () => {
  const now = Date.UTC(2026, 11, 3, 6, 0, 0);
  const { username, credential } = turnCredentials(SECRET, 'ab12', now, 3600);
  assert.equal(username, `${now / 1000 + 3600}:ab12`);
  assert.equal(credential, await webCryptoPassword(SECRET, username));
  assert.notEqual(credential, (await webCryptoPassword('another-secret', username)), 'the secret matters');
});

test('iceServersFor: STUN as given, TURN with the peer\'s credentials; nothing configured, nothing handed out', async () => {
  const servers = iceServersFor(ICE, 'ff00', 1_000_000_000_000);
  assert.deepEqual(servers[0], { urls: ['stun:stun.example.org:3478'] });
  const { server, expiry, peerId } = turnEntry(servers);
  assert.deepEqual(server.urls, ICE.turn!.urls);
  assert.equal(expiry, 1_000_000_000 + 600);
  assert.equal(peerId, 'ff00');
  assert.equal(server.credential, await webCryptoPassword(SECRET, server.username!));
  assert.deepEqual(iceServersFor({}, 'ff00', 0), []);
  const defaultTtl = turnEntry(iceServersFor({ turn: { urls: ['turn:t:3478'], secret: SECRET } }, 'x', 0));
  assert.equal(defaultTtl.expiry, DEFAULT_TURN_TTL_SECONDS);
});

test('wrong schemes, an empty secret and a bad lifetime are ConfigErrors', () => {
  const bad: IceOptions[] = [
    { stun: ['turn:stun.example.org'] },
    { turn: { urls: ['stun:turn.example.org'], secret: SECRET } },
    { turn: { urls: [], secret: SECRET } },
    { turn: { urls: ['turn:t:3478'], secret: '' } },
    { turn: { urls: ['turn:t:3478'], secret: SECRET, ttlSeconds: 0 } },
    { turn: { urls: ['turn:t:3478'], secret: SECRET, ttlSeconds: 1.5 } },
  ];
  for (const options of bad) assert.throws(() => checkIceOptions(options), ConfigError, JSON.stringify(options));
  assert.doesNotThrow(() => checkIceOptions(ICE));
});

test('a server without ICE servers answers a join with none (tabs on one machine, as before)', LIMIT, async (t) => {
  const h = await harness(t);
  assert.deepEqual((await joined(await h.connect(), 'plain')).iceServers, []);
});

test('the join ack carries STUN and the joiner\'s own TURN credentials, never the secret', LIMIT, async (t) => {
  const h = await harness(t, { ice: ICE });
  const before = Math.floor(Date.now() / 1000);
  const a = await joined(await h.connect(), 'turn');
  const b = await joined(await h.connect(), 'turn');
  const after = Math.ceil(Date.now() / 1000);
  for (const member of [a, b]) {
    assert.ok(!JSON.stringify(member).includes(SECRET), 'the secret stays on the server');
    assert.deepEqual(member.iceServers[0], { urls: ICE.stun });
    const { server, expiry, peerId } = turnEntry(member.iceServers);
    assert.equal(peerId, member.peerId, 'credentials name their own member');
    assert.ok(expiry >= before + 600 && expiry <= after + 600, `expiry ${expiry} is now + 600 s`);
    assert.equal(server.credential, await webCryptoPassword(SECRET, server.username!));
  }
  assert.notEqual(turnEntry(a.iceServers).server.credential, turnEntry(b.iceServers).server.credential);
});

test('a rejoin after a restart renews credentials that expired meanwhile', LIMIT, async (t) => {
  const shortLived: IceOptions = { turn: { urls: ['turn:turn.example.org:3478'], secret: SECRET, ttlSeconds: 1 } };
  const old = await harness(t, { ice: shortLived });
  const member = await joined(await old.connect(), 'renew');
  const first = turnEntry(member.iceServers);
  await sleep(1200);
  assert.ok(first.expiry < Date.now() / 1000, 'the first credentials have expired');
  const restarted = await harness(t, { ice: shortLived, rebuildWindowMs: 100 });
  const answer = await tryRejoin(await restarted.connect(), {
    room: 'renew', peerId: member.peerId, token: member.token, config: { ...member.config },
    epoch: member.epoch, members: member.members, step: 3, hash: 'h3',
  });
  assert.ok(answer.ok, JSON.stringify(answer));
  const renewed = turnEntry(answer.data.iceServers);
  assert.equal(renewed.peerId, member.peerId);
  assert.ok(renewed.expiry > Date.now() / 1000, 'valid again');
  assert.equal(renewed.server.credential, await webCryptoPassword(SECRET, renewed.server.username!));
});
