import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatLinkSettings, isShaped, parseLinkSettings, UNSHAPED } from './link.ts';

describe('link settings', () => {
  it('reads the URL form of every key', () => {
    const s = parseLinkSettings({ bandwidth: '10mbit', latency: '40ms', jitter: '5ms', loss: '0.01', room: 'x' });
    assert.deepEqual(s, { bandwidthBitsPerSec: 10e6, latencyMs: 40, jitterMs: 5, loss: 0.01 });
    assert.equal(formatLinkSettings(s), '10 Mbit/s, latency 40 ms, jitter 5 ms, loss 1 %');
  });

  it('knows the units, and plain numbers as bit/s and ms', () => {
    const bw = (v: unknown): number | null => parseLinkSettings({ bandwidth: v }).bandwidthBitsPerSec;
    assert.equal(bw('800bit'), 800);
    assert.equal(bw('256kbit'), 256e3);
    assert.equal(bw('2.5Mbit'), 2.5e6);
    assert.equal(bw('1gbit'), 1e9);
    assert.equal(bw('1e6'), 1e6);
    assert.equal(bw(5000), 5000);
    assert.equal(parseLinkSettings({ latency: '0.25s' }).latencyMs, 250);
    assert.equal(parseLinkSettings({ latency: '12' }).latencyMs, 12);
    assert.equal(parseLinkSettings({ jitter: 3 }).jitterMs, 3);
    assert.equal(formatLinkSettings(parseLinkSettings({ bandwidth: '1536kbit' })), '1.536 Mbit/s');
  });

  it('leaves absent keys unshaped', () => {
    assert.deepEqual(parseLinkSettings({}), UNSHAPED);
    assert.deepEqual(parseLinkSettings({ bandwidth: '' }), UNSHAPED);
    assert.equal(isShaped(parseLinkSettings({})), false);
    assert.equal(isShaped(parseLinkSettings({ loss: '0.1' })), true);
    assert.equal(formatLinkSettings(null), 'unshaped');
  });

  for (const [key, raw] of [
    ['bandwidth', '10mbps'], ['bandwidth', '0'], ['bandwidth', '-1mbit'], ['bandwidth', 'fast'],
    ['latency', '40 minutes'], ['latency', '-5ms'], ['latency', '120s'], ['jitter', 'NaN'],
    ['loss', '1'], ['loss', '-0.1'], ['loss', '1%'],
  ] as const) {
    it(`refuses ${key}=${raw} with a ConfigError naming the key`, () => {
      assert.throws(() => parseLinkSettings({ [key]: raw }), (err: Error) => err.name === 'ConfigError' && err.message.startsWith(`${key} `));
    });
  }
});
