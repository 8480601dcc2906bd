/**
 * A recurrent task: a character-level LSTM that reads 16 characters of a text and predicts the
 * next one. Where the text comes from is the platform's (the disk in Node: char-rnn-task.ts; a
 * fetch in a tab), as MNIST's reader is for the built-in tasks.
 */
import * as tf from '@tensorflow/tfjs';
import { characterVocabulary, fromLayersModel, subset, textWindows, type Task, type TaskData } from '@tabswarm/shared';

/** Characters a prediction reads. */
const WINDOW = 16;
/** The text's last tenth is held out for evaluation. */
const HELD_OUT = 0.1;

/** Windows of the lower-cased text: the first nine tenths to train on, the rest to evaluate. */
export function textData(text: string): TaskData {
  const lower = text.toLowerCase();
  const all = textWindows(lower, characterVocabulary(lower), WINDOW);
  const split = Math.floor(all.count * (1 - HELD_OUT));
  const range = (from: number, to: number): Int32Array => Int32Array.from({ length: to - from }, (_, i) => from + i);
  return { train: subset(all, range(0, split)), test: subset(all, range(split, all.count)) };
}

/** The task over the text `loadText` gives (`dataset` names it: members must train on the same text). */
export function charLstmTask(dataset: string, loadText: () => Promise<string>): Task {
  return {
    name: 'char-lstm',
    dataset,
    loadData: async () => textData(await loadText()),
    createModel: (data) => fromLayersModel(tf.sequential({
      layers: [
        tf.layers.embedding({ inputDim: data.classes, outputDim: 16, inputLength: WINDOW }),
        tf.layers.lstm({ units: 48 }),
        tf.layers.dense({ units: data.classes }),
      ],
    })),
  };
}
