/** What the page says about the signaling server connection, apart from the peers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeData, describeFinished, describePath, describeRounds, describeServer, formatBytes } from './ui.ts';

test('the server line: connected, or reconnecting for how long, and whether training waits for it', () => {
  const now = 100_000;
  assert.equal(describeServer({ state: 'connecting', since: null, paused: false }, now), 'connecting…');
  assert.equal(describeServer({ state: 'connected', since: 1_000, paused: false }, now), 'connected');
  assert.equal(describeServer({ state: 'reconnecting', since: now - 15_400, paused: false }, now), 'reconnecting for 15 s (training goes on over the data channels)');
  assert.equal(describeServer({ state: 'reconnecting', since: now - 3_000, paused: true }, now), 'reconnecting for 3 s; training paused until it is back');
  assert.equal(describeServer({ state: 'connected', since: now, paused: true }, now), 'connected; training paused until it is back');
  assert.equal(describeServer({ state: 'closed', since: now, paused: false }, now), 'closed');
});

test('bytes are shown in B, KiB, MiB', () => {
  assert.deepEqual([formatBytes(512), formatBytes(2048), formatBytes(3 * 1024 * 1024)], ['512 B', '2.0 KiB', '3.00 MiB']);
});

test('a peer\'s path: direct or relayed by TURN, its candidate pair and round trip', () => {
  const base = { peerId: 'ab', protocol: 'udp', measuredAt: 1 };
  assert.equal(describePath({ ...base, path: 'direct', localCandidateType: 'host', remoteCandidateType: 'host', roundTripMs: 2.345 }), 'direct (host-host, udp), rtt 2.3 ms');
  assert.equal(describePath({ ...base, path: 'relay', localCandidateType: 'relay', remoteCandidateType: 'host', roundTripMs: 41.4 }), 'relayed by TURN (relay-host, udp), rtt 41 ms');
  assert.equal(describePath({ ...base, path: 'unknown', localCandidateType: null, remoteCandidateType: null, protocol: null, roundTripMs: null, measuredAt: null }), 'path not measured yet');
});

test('the rounds line: mode, the last round\'s contributions (this tab\'s among them), time spent waiting', () => {
  assert.equal(describeRounds({ peerId: 'a' }), '…');
  assert.equal(describeRounds({ peerId: 'a', rounds: { sync: 'step', round: 3, unit: 'steps', contributions: null, waitingShare: 0.25, sittingOut: [], loadingShard: false } }), 'sync=step, 25 % of the time waiting');
  const rounds = { sync: 'accumulate' as const, round: 7, unit: 'micro-batches', contributions: { a: 9, b: 1 }, waitingShare: 0.084, sittingOut: [], loadingShard: false };
  assert.equal(describeRounds({ peerId: 'b', rounds }), 'sync=accumulate, last round 9 + 1 micro-batches (this tab 1), 8 % of the time waiting');
  const sitting = { ...rounds, sittingOut: ['b'] };
  assert.equal(describeRounds({ peerId: 'b', rounds: sitting }), 'sync=accumulate, last round 9 + 1 micro-batches (this tab 1), 8 % of the time waiting, this tab sits the next round out (too slow for it; it computes meanwhile)');
  assert.equal(describeRounds({ peerId: 'a', rounds: sitting }), 'sync=accumulate, last round 9 + 1 micro-batches (this tab 9), 8 % of the time waiting, 1 member sits the next round out');
  const loading = { ...rounds, contributions: { a: 9, b: 0 }, sittingOut: ['b'], loadingShard: true };
  assert.equal(describeRounds({ peerId: 'b', rounds: loading }), 'sync=accumulate, last round 9 + 0 micro-batches (this tab 0), 8 % of the time waiting, this tab still loads its shard: it takes part with nothing until it holds it');
});

test('the data line says what was downloaded and what is held', () => {
  assert.equal(describeData(null), '…');
  assert.equal(describeData({ bytesDownloaded: 13 * 1024 * 1024, requests: 31, trainExamples: 15_000, testExamples: 1000 }), '13.00 MiB downloaded in 31 requests; holds 15000 training + 1000 test examples');
  const local = { bytesDownloaded: 2048, requests: 2, trainExamples: 5, testExamples: 100, source: 'local' as const, examples: 5, classes: 3, classCounts: [2, 0, 3], files: ['a.csv', 'b.csv'] };
  assert.equal(describeData(local), "this tab's own data (never leaves it): a.csv, b.csv, 5 examples, per class 2 / 0 / 3; 2.0 KiB downloaded in 2 requests; holds 5 training + 100 test examples");
});

test('the finished line: the run\'s last step, hash and accuracy, and how many members still hold it', () => {
  assert.equal(describeFinished({ finished: null, peers: [] }), 'not yet');
  const run = { step: 20, hash: 'e506d655bda584ea', testAccuracy: 0.825 };
  assert.equal(describeFinished({ finished: run, peers: ['a', 'b'], role: 'observer' }), 'at step 20, weights e506d655bda584ea, test accuracy 82.50 %; 2 members still hold it');
  assert.equal(describeFinished({ finished: run, peers: [], role: 'member' }), 'at step 20, weights e506d655bda584ea, test accuracy 82.50 %; 1 member still holds it');
  assert.equal(describeFinished({ finished: { ...run, testAccuracy: null }, peers: [], role: 'observer' }), 'at step 20, weights e506d655bda584ea; 0 members still hold it');
});
