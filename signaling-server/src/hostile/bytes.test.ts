/**
 * Hostile rows: "20 sockets each announcing 10 x 1 MB binary attachments: +180 MB held while they
 * stay open" and "10 sockets from one address, 1,000 events: all 1,000 accepted (the limit is per
 * socket)". Now binary packets close the connection before any attachment is held, and each
 * address has an event and byte budget over all its sockets.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { httpGet, joined, LIMIT, raw, rawAck, sleep, type Tab } from '../testing.ts';
import { arena, ATTACKER, disconnected, HONEST, sample } from './kit.ts';

for (const size of [1024 * 1024, 64 * 1024]) {
  // The sockets of this test process write 200 MB: the deadline is for a loaded machine.
  test(`20 sockets each announcing 10 binary attachments of ${size / 1024} KiB are closed, none held`, { timeout: 40_000 }, async (t) => {
    const h = await arena(t, { maxConnectionsPerAddress: 64 });
    const tabs: Tab[] = [];
    for (let i = 0; i < 20; i++) tabs.push(await h.from(ATTACKER));
    const attachments = Array.from({ length: 10 }, () => Buffer.alloc(size, 7));
    for (const tab of tabs) raw(tab).emit('room:join', { room: 'bin' }, ...attachments);
    const closed = await Promise.all(tabs.map((tab) => disconnected(tab, 20_000)));
    assert.deepEqual(closed, Array.from({ length: 20 }, () => true), 'every binary sender is disconnected');
    const metrics = (await httpGet(h.url, '/metrics')).body;
    assert.ok((sample(metrics, 'tabswarm_rejected_total', '{reason="binary"}') ?? 0) >= 20);
    assert.equal(sample(metrics, 'tabswarm_connections'), 0, 'nothing left open');
    // The server still serves honest tabs.
    await joined(await h.from(HONEST[0]), 'after-binary');
  });
}

test('10 sockets from one address sending 1,000 events each get the address budget, not ten socket budgets', { timeout: 30_000 }, async (t) => {
  const h = await arena(t, { addressRateLimit: { burst: 300, perSecond: 100 } });
  const tabs: Tab[] = [];
  for (let i = 0; i < 10; i++) tabs.push(await h.from(ATTACKER));
  let answered = 0;
  const started = performance.now();
  for (const tab of tabs) {
    for (let i = 0; i < 1000; i++) raw(tab).emit('room:report', { kind: 'status', text: 'x' }, () => { answered += 1; });
  }
  // Until the answers stop coming (a loaded machine may take a while to process 10,000 events).
  let last = -1;
  for (let waited = 0; (answered === 0 || answered !== last) && waited < 15_000; waited += 1000) {
    last = answered;
    await sleep(1000);
  }
  const elapsed = (performance.now() - started) / 1000;
  t.diagnostic(`10 x 1,000 events over ${elapsed.toFixed(1)} s: ${answered} answered`);
  // Per socket alone 10 x 200 (burst) would pass at once; the address gets 300 + 100/s.
  assert.ok(answered <= 300 + 100 * elapsed + 10, `${answered} answered`);
  assert.ok(answered < 2000, 'less than ten socket budgets');
  assert.ok(answered >= 300, 'the budget is served');
  // Another address is not affected.
  await joined(await h.from(HONEST[0]), 'other-address');
});

test('the byte budget of an address counts every packet', LIMIT, async (t) => {
  const h = await arena(t, { addressByteLimit: { burst: 200_000, perSecond: 10_000 } });
  const tab = await h.from(ATTACKER);
  let answered = 0;
  const text = 'y'.repeat(250);
  // Each report is about 300 bytes: the budget is about 700 of them, the socket's own 200.
  for (let i = 0; i < 150; i++) raw(tab).emit('room:report', { kind: 'status', text }, () => { answered += 1; });
  for (let waited = 0; answered < 150 && waited < 10_000; waited += 100) await sleep(100);
  assert.equal(answered, 150, 'within the byte budget');
  const big = { kind: 'status', text: 'z'.repeat(256), pad: 'p'.repeat(60_000) };
  let bigAnswered = 0;
  for (let i = 0; i < 10; i++) raw(tab).emit('room:report', big, () => { bigAnswered += 1; });
  // A later event is answered once everything before it was handled (one socket's events stay in order).
  await rawAck(tab, 'room:report', { kind: 'status', text: 'last' });
  assert.ok(bigAnswered <= 3, `${bigAnswered} of 10 x 60 KB answered`);
});
