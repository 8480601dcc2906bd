/**
 * A text as examples for a character-level model: example i is the window of `length` characters
 * starting at i (as ids into the vocabulary) and its label the character after it. Pure and
 * deterministic, so every member builds the same examples from the same text.
 */
import { ConfigError } from '../errors.ts';
import type { Dataset } from './mnist.ts';

/** Labels are one byte: a vocabulary has at most this many characters. */
export const MAX_VOCABULARY = 256;

/** The distinct characters of `text`, sorted by code point: the same ids on every member. */
export function characterVocabulary(text: string): string[] {
  const chars = [...new Set(Array.from(text))].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
  if (chars.length > MAX_VOCABULARY) throw new ConfigError(`the text has ${chars.length} distinct characters; a character model takes at most ${MAX_VOCABULARY}`);
  return chars;
}

/** Every window of `length` characters of `text` and the character that follows it. */
export function textWindows(text: string, vocabulary: readonly string[], length: number): Dataset {
  const ids = new Map(vocabulary.map((c, i) => [c, i]));
  const codes = Array.from(text, (c) => {
    const id = ids.get(c);
    if (id === undefined) throw new ConfigError(`the character ${JSON.stringify(c)} is not in the vocabulary`);
    return id;
  });
  const count = codes.length - length;
  if (!Number.isInteger(length) || length < 1 || count < 1) throw new ConfigError(`a text of ${codes.length} characters has no window of ${length} followed by a character`);
  const images = new Float32Array(count * length);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < length; j++) images[i * length + j] = codes[i + j]!;
    labels[i] = codes[i + length]!;
  }
  return { images, labels, count, shape: [length], classes: vocabulary.length };
}
