/**
 * The character LSTM (char-lstm.ts) on a short story written for this repository (public
 * domain), read from the disk: the module to give a Node worker or the swarm CLI.
 *
 *   npm run swarm -- --task examples/src/char-rnn/char-rnn-task.ts --workers 2 --steps 100 \
 *     --compressor powersgd --rank 2 --ef ef14 --lr 0.01 --batchSize 32 --evalSize 300
 */
import { readFile } from 'node:fs/promises';
import { charLstmTask } from './char-lstm.ts';

export const STORY = new URL('./lighthouse.txt', import.meta.url);

export const task = charLstmTask('lighthouse-story', () => readFile(STORY, 'utf8'));
