import assert from 'node:assert/strict';
import { test } from 'node:test';
import { characterVocabulary, textWindows } from './text-windows.ts';

test('windows of a text: ids of the sorted vocabulary, the next character as the label', () => {
  const vocabulary = characterVocabulary('abcab a');
  assert.deepEqual(vocabulary, [' ', 'a', 'b', 'c']);
  const d = textWindows('abcab a', vocabulary, 3);
  assert.equal(d.count, 4);
  assert.deepEqual(d.shape, [3]);
  assert.equal(d.classes, 4);
  assert.deepEqual(Array.from(d.images.subarray(0, 6)), [1, 2, 3, 2, 3, 1]);
  assert.deepEqual(Array.from(d.labels), [1, 2, 0, 1]);
});

test('what a character model cannot take is refused by name', () => {
  assert.throws(() => textWindows('abc', ['a', 'b'], 1), { name: 'ConfigError', message: /"c" is not in the vocabulary/ });
  assert.throws(() => textWindows('abc', ['a', 'b', 'c'], 3), { name: 'ConfigError', message: /no window of 3/ });
  const wide = Array.from({ length: 300 }, (_, i) => String.fromCodePoint(0x100 + i)).join('');
  assert.throws(() => characterVocabulary(wide), { name: 'ConfigError', message: /300 distinct characters/ });
});
