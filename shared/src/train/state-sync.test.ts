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

  it('the majority state wins over a higher step; members still at step 0 do not vote', () => {
    const liar = new Map([
      ['a', { step: 7, hash: 'good' }],
      ['b', { step: 7, hash: 'good' }],
      ['m', { step: 9_999, hash: 'forged' }],
      ['j', { step: 0, hash: 'initial' }],
      ['k', { step: 0, hash: 'initial' }],
      ['l', { step: 0, hash: 'initial' }],
    ]);
    assert.equal(chooseSource([...liar.keys()], liar), 'a');
    // One member trained, two newcomers: the trained one is the source, not the newcomers' majority.
    const newcomers = new Map([['c', { step: 4, hash: 'x' }], ['j', { step: 0, hash: 'i' }], ['k', { step: 0, hash: 'i' }]]);
    assert.equal(chooseSource(['j', 'k', 'c'], newcomers), 'c');
    // All at step 0: the majority there.
    const fresh = new Map([['a', { step: 0, hash: 'i' }], ['b', { step: 0, hash: 'i' }], ['m', { step: 0, hash: '0' }]]);
    assert.equal(chooseSource(['a', 'b', 'm'], fresh), 'a');
  });

  it('hellos round-trip; anything else is a WireFormatError', () => {
    const hash = '0123456789abcdef';
    assert.deepEqual(parseHello(encodeHello({ step: 12, hash })), { step: 12, hash });
    const bytes = (text: string) => new TextEncoder().encode(text);
    assert.throws(() => parseHello(bytes('{not json')), { name: 'WireFormatError', message: 'hello is not JSON' });
    assert.throws(() => parseHello(bytes(JSON.stringify({ step: 1, hash, pad: 'x'.repeat(300) }))), { name: 'WireFormatError', message: /hello of \d+ bytes/ });
    for (const bad of ['null', '{"step":1.5,"hash":"a"}', '{"step":1}', '{"step":"1","hash":"a"}', `{"step":-1,"hash":"${hash}"}`, '{"step":1,"hash":"abc"}', `{"step":1e300,"hash":"${hash}"}`]) {
      assert.throws(() => parseHello(bytes(bad)), { name: 'WireFormatError', message: 'malformed hello' }, bad);
    }
  });
});
