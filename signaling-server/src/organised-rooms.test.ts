/** Organised rooms: made from the CLI flags, fixed configuration, `--open-rooms false`, the preview before a join. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONFIG_KEYS, DEFAULT_CONFIG, parseRunConfig, type RoomOffer } from '@tabswarm/shared/protocol';
import { RoomRegistry } from './room-registry.ts';
import { readServerFlags, SERVER_FLAG_OPTIONS } from './server-flags.ts';
import { errorOf, harness, joined, LIMIT, rawAck, tryJoin } from './testing.ts';

test('no server flag is a run configuration key (both share the command line)', () => {
  const clashes = Object.keys(SERVER_FLAG_OPTIONS).filter((flag) => (CONFIG_KEYS as string[]).includes(flag));
  assert.deepEqual(clashes, []);
  for (const own of ['port', 'host', 'static', 'help']) assert.equal((CONFIG_KEYS as string[]).includes(own), false, own);
});

test('--room, --open-rooms, --rooms-file and --admin-token set the options; bad values are ConfigErrors', () => {
  const { options } = readServerFlags({ room: ['lab', 'class.b'], 'open-rooms': 'false', 'admin-token': 'a-token-of-16-chars', 'rooms-file': '/var/lib/tabswarm/rooms.json' }, {});
  assert.deepEqual(options.rooms, [{ room: 'lab' }, { room: 'class.b' }]);
  assert.equal(options.roomsFile, '/var/lib/tabswarm/rooms.json');
  assert.equal(options.openRooms, false);
  assert.equal(options.adminToken, 'a-token-of-16-chars');
  assert.equal(readServerFlags({}, { TABSWARM_ADMIN_TOKEN: 'from-the-environment' }).options.adminToken, 'from-the-environment');
  assert.equal(readServerFlags({}, {}).options.openRooms, undefined, 'open by default');
  assert.throws(() => readServerFlags({ room: ['no spaces'] }, {}), { name: 'ConfigError', message: /--room must be/ });
  assert.throws(() => readServerFlags({ room: ['x', 'x'] }, {}), { name: 'ConfigError', message: /twice/ });
  assert.throws(() => readServerFlags({ 'open-rooms': 'no' }, {}), { name: 'ConfigError', message: /--open-rooms must be true or false/ });
  assert.throws(() => readServerFlags({ 'admin-token': 'short' }, {}), { name: 'ConfigError', message: /at least 16 characters/ });
});

test('an organised room keeps the organiser configuration, ignores joiners keys and outlives its members', LIMIT, async (t) => {
  const organiser = parseRunConfig({ model: 'cnn', steps: '2000', compressor: 'powersgd' });
  const h = await harness(t, { defaultConfig: organiser, rooms: [{ room: 'lab' }] });
  assert.deepEqual(h.signaling.rooms(), [{ room: 'lab', epoch: 0, members: [], config: organiser, organised: true }]);

  const tab = await h.connect();
  const a = await joined(tab, 'lab', { model: 'mlp', compressor: 'none', steps: 5 });
  assert.equal(a.organised, true);
  assert.equal(a.config.model, 'cnn');
  assert.equal(a.config.compressor, 'powersgd');
  assert.equal(a.config.steps, 2000);
  tab.emit('room:leave');
  await until(() => h.signaling.rooms()[0]?.members.length === 0);
  assert.equal(h.signaling.rooms()[0]?.epoch, 2, 'still there, empty, after its last member left');

  // A room a first tab opens keeps today's behaviour: the first joiner's keys.
  const open = await joined(await h.connect(), 'own', { model: 'mlp', steps: 7 });
  assert.equal(open.organised, false);
  assert.equal(open.config.steps, 7);
});

test('with --open-rooms false an unknown room is an UnknownRoomError for joins and previews alike', LIMIT, async (t) => {
  const h = await harness(t, { openRooms: false, rooms: [{ room: 'lab', config: { steps: 30 } }] });
  const tab = await h.connect();
  const refused = errorOf(await tryJoin(tab, 'elsewhere'));
  assert.equal(refused.name, 'UnknownRoomError');
  assert.match(refused.message, /room elsewhere does not exist/);
  assert.equal(errorOf(await rawAck(tab, 'room:preview', { room: 'elsewhere' })).name, 'UnknownRoomError');
  assert.equal((await joined(tab, 'lab')).config.steps, 30);
});

test('a preview says what a join would get, and joins nothing', LIMIT, async (t) => {
  const h = await harness(t, { rooms: [{ room: 'lab', config: { model: 'cnn', batchSize: 512, evalSize: 10000, evalEvery: 10 } }] });
  const tab = await h.connect();
  const lab = await rawAck(tab, 'room:preview', { room: 'lab', config: { model: 'mlp' } });
  assert.ok(lab.ok);
  const offer = lab.data as RoomOffer;
  assert.equal(offer.organised, true);
  assert.equal(offer.config.model, 'cnn');
  assert.equal(offer.members, 0);
  assert.equal(offer.cost.heavy, true, 'a large CNN batch is heavy');
  const fresh = await rawAck(tab, 'room:preview', { room: 'new', config: { steps: '12' } });
  assert.ok(fresh.ok);
  assert.deepEqual((fresh.data as RoomOffer).config, { ...DEFAULT_CONFIG, steps: 12 });
  assert.equal((fresh.data as RoomOffer).organised, false);
  assert.deepEqual(h.signaling.rooms().map((r) => r.room), ['lab'], 'nobody joined, nothing opened');
  assert.equal(errorOf(await rawAck(tab, 'room:preview', { room: 'new', config: { model: 'rnn' } })).name, 'ConfigError');
  assert.equal(errorOf(await rawAck(tab, 'room:preview', { room: '../x' })).name, 'ValidationError');
});

test('the registry refuses a second room of one name and a configuration outside its policy', () => {
  const rooms = new RoomRegistry();
  rooms.organise('lab', { steps: '10' });
  assert.throws(() => rooms.organise('lab', {}), { name: 'ConfigError', message: /exists already/ });
  assert.throws(() => rooms.organise('big', { batchSize: '4096' }), { name: 'ConfigError' });
  assert.throws(() => rooms.organise('a/b', {}), { name: 'ValidationError' });
  rooms.join('lab', { steps: 99 });
  assert.equal(rooms.snapshot('lab')?.config.steps, 10);
  assert.deepEqual(rooms.unstarted(0), [], 'an organised room is never closed for want of members');
});

async function until(done: () => boolean): Promise<void> {
  for (const started = Date.now(); !done(); await new Promise((r) => setTimeout(r, 10))) {
    if (Date.now() - started > 2000) throw new Error('condition not met within 2000 ms');
  }
}
