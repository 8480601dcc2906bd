import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseSource, encodeHello, parseHello } from './state-sync.ts';

describe('state sync', () => {
  it('chooses the majority weights at the highest step, then the lowest id', () => {
    const hellos = new Map([
      ['a', { step: 5, hash: 'x' }],
      ['b', { step: 7, hash: 'bad' }],
      ['c', { step: 7, hash: 'good' }],
      ['d', { step: 7, hash: 'good' }],
    ]);
    assert.equal(chooseSource(['d', 'c', 'b', 'a'], hellos), 'c');
  });

  it('breaks a tie of hashes by the smaller hash, then takes the lowest id holding it', () => {
    const hellos = new Map([
      ['a', { step: 3, hash: 'y' }],
      ['b', { step: 3, hash: 'x' }],
      ['c', { step: 3, hash: 'x' }],
      ['d', { step: 3, hash: 'y' }],
    ]);
    assert.equal(chooseSource(['a', 'b', 'c', 'd'], hellos), 'b');
  });

  it('hellos round-trip; anything else is a WireFormatError', () => {
    assert.deepEqual(parseHello(encodeHello({ step: 12, hash: 'abc' })), { step: 12, hash: 'abc' });
    const bytes = (text: string) => new TextEncoder().encode(text);
    assert.throws(() => parseHello(bytes('{not json')), { name: 'WireFormatError', message: 'hello is not JSON' });
    for (const bad of ['null', '{"step":1.5,"hash":"a"}', '{"step":1}', '{"step":"1","hash":"a"}']) {
      assert.throws(() => parseHello(bytes(bad)), { name: 'WireFormatError', message: 'malformed hello' }, bad);
    }
  });
});
