/**
 * A recurrent task: a character-level LSTM that reads 16 characters of a short story (written for
 * this repository, public domain) and predicts the next one. The text ships beside this file; in
 * Node it is read from the disk, in a tab fetched from where the bundler put it.
 *
 *   npm run swarm -- --task examples/src/char-rnn/char-rnn-task.ts --workers 2 --steps 100 \
 *     --compressor powersgd --rank 2 --ef ef14 --lr 0.01 --batchSize 32 --evalSize 300
 */
import * as tf from '@tensorflow/tfjs';
import { characterVocabulary, fromLayersModel, subset, textWindows, type Task, type TaskData } from '@tabswarm/shared';

const TEXT_URL = new URL('./lighthouse.txt', import.meta.url);
/** Characters a prediction reads. */
const WINDOW = 16;
/** The story's last tenth is held out for evaluation. */
const HELD_OUT = 0.1;

async function readText(url: URL): Promise<string> {
  if (url.protocol !== 'file:') return (await fetch(url)).text();
  const { readFile } = await import('node:fs/promises');
  return readFile(url, 'utf8');
}

/** Windows of the lower-cased story: the first nine tenths to train on, the rest to evaluate. */
export async function storyData(): Promise<TaskData> {
  const text = (await readText(TEXT_URL)).toLowerCase();
  const all = textWindows(text, characterVocabulary(text), WINDOW);
  const split = Math.floor(all.count * (1 - HELD_OUT));
  const range = (from: number, to: number): Int32Array => Int32Array.from({ length: to - from }, (_, i) => from + i);
  return { train: subset(all, range(0, split)), test: subset(all, range(split, all.count)) };
}

export const task: Task = {
  name: 'char-lstm',
  dataset: 'lighthouse-story',
  loadData: storyData,
  createModel: (data) => fromLayersModel(tf.sequential({
    layers: [
      tf.layers.embedding({ inputDim: data.classes, outputDim: 16, inputLength: WINDOW }),
      tf.layers.lstm({ units: 48 }),
      tf.layers.dense({ units: data.classes }),
    ],
  })),
};
