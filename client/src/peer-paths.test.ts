/** The path of a connection from its WebRTC stats, and the monitor that measures it every few seconds. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PathMonitor, selectedPath, type PathSource, type StatsEntry } from './peer-paths.ts';

/** Entries as Chromium reports them: the transport names the selected pair, other pairs stand by. */
function chromiumStats(local: string, remote: string, rttSeconds: number): StatsEntry[] {
  return [
    { id: 'T01', type: 'transport', selectedCandidatePairId: 'CPb' },
    { id: 'CPa', type: 'candidate-pair', localCandidateId: 'Lh', remoteCandidateId: 'Rh', state: 'failed', nominated: false, currentRoundTripTime: 9 },
    { id: 'CPb', type: 'candidate-pair', localCandidateId: 'Lx', remoteCandidateId: 'Rx', state: 'succeeded', nominated: true, currentRoundTripTime: rttSeconds },
    { id: 'Lh', type: 'local-candidate', candidateType: 'host', protocol: 'udp' },
    { id: 'Rh', type: 'remote-candidate', candidateType: 'host', protocol: 'udp' },
    { id: 'Lx', type: 'local-candidate', candidateType: local, protocol: 'udp', ...(local === 'relay' ? { relayProtocol: 'tcp' } : {}) },
    { id: 'Rx', type: 'remote-candidate', candidateType: remote, protocol: 'udp' },
  ];
}

test('the transport\'s selected pair decides: relayed when either end is a TURN relay', () => {
  assert.deepEqual(selectedPath('p', chromiumStats('relay', 'relay', 0.0415), 7), {
    peerId: 'p', path: 'relay', localCandidateType: 'relay', remoteCandidateType: 'relay', protocol: 'tcp', roundTripMs: 41.5, measuredAt: 7,
  });
  assert.equal(selectedPath('p', chromiumStats('host', 'relay', 0.01), 7).path, 'relay');
  const direct = selectedPath('p', chromiumStats('srflx', 'host', 0.002), 7);
  assert.equal(direct.path, 'direct');
  assert.equal(direct.protocol, 'udp');
  assert.equal(direct.roundTripMs, 2);
});

test('without a transport entry: the pair marked selected, else the nominated one that succeeded', () => {
  const candidates: StatsEntry[] = [
    { id: 'L', type: 'local-candidate', candidateType: 'prflx' },
    { id: 'R', type: 'remote-candidate', candidateType: 'host' },
  ];
  const firefox = [...candidates, { id: 'P', type: 'candidate-pair', localCandidateId: 'L', remoteCandidateId: 'R', selected: true }];
  assert.equal(selectedPath('p', firefox, 1).path, 'direct');
  assert.equal(selectedPath('p', firefox, 1).roundTripMs, null, 'no round trip reported');
  const nominated = [...candidates, { id: 'P', type: 'candidate-pair', localCandidateId: 'L', remoteCandidateId: 'R', nominated: true, state: 'succeeded', currentRoundTripTime: 0.003 }];
  assert.equal(selectedPath('p', nominated, 1).localCandidateType, 'prflx');
  const waiting = [...candidates, { id: 'P', type: 'candidate-pair', localCandidateId: 'L', remoteCandidateId: 'R', nominated: false, state: 'in-progress' }];
  assert.deepEqual(selectedPath('p', waiting, 1), { peerId: 'p', path: 'unknown', localCandidateType: null, remoteCandidateType: null, protocol: null, roundTripMs: null, measuredAt: 1 });
  assert.equal(selectedPath('p', [], 1).path, 'unknown');
});

test('the monitor measures the connected peers, keeps the last measurement on a failure, forgets peers gone', async () => {
  let connected = ['a', 'b'];
  let failB = false;
  const source: PathSource = {
    connectedPeers: () => connected,
    stats: (id) => (failB && id === 'b' ? Promise.reject(new Error('closing')) : Promise.resolve(chromiumStats(id === 'a' ? 'host' : 'relay', 'host', 0.01))),
  };
  let changes = 0;
  const monitor = new PathMonitor(source, () => changes++, 60_000);
  try {
    assert.deepEqual(monitor.paths(['a', 'b']).map((p) => p.path), ['unknown', 'unknown'], 'nothing measured yet');
    await monitor.measure();
    assert.deepEqual(monitor.paths(['a', 'b']).map((p) => p.path), ['direct', 'relay']);
    assert.equal(changes, 1);
    failB = true;
    const before = monitor.paths(['b'])[0];
    await monitor.measure();
    assert.deepEqual(monitor.paths(['b'])[0], before, 'the last measurement stays');
    connected = ['a'];
    await monitor.measure();
    connected = ['a', 'b'];
    assert.equal(monitor.paths(['b'])[0]!.path, 'unknown', 'a peer that left is forgotten');
  } finally {
    monitor.close();
  }
});
