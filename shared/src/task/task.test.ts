import assert from 'node:assert/strict';
import { test } from 'node:test';
import { quadrantImages } from '../data/synthetic.ts';
import { parseRunConfig } from '../train/config.ts';
import { builtinTasks } from './mnist-tasks.ts';
import { isTask, roomTaskName, type Task } from './task.ts';

const data = quadrantImages(4, 4, 1);
const custom = (name: string): Task => ({ ...builtinTasks(() => Promise.resolve({ train: data, test: data }))({ model: 'mlp' }), name, builtin: false });

test('the room key `task`: empty for a built-in task, the name of any other; a name a room cannot carry is refused', () => {
  assert.equal(roomTaskName(builtinTasks(() => Promise.resolve({ train: data, test: data }))({ model: 'cnn' })), '');
  assert.equal(roomTaskName(custom('char-lstm')), 'char-lstm');
  assert.throws(() => roomTaskName(custom('My Task')), { name: 'ConfigError', message: /lower-case letters, digits/ });
  assert.throws(() => roomTaskName(custom('')), { name: 'ConfigError' });
  assert.equal(parseRunConfig({}).task, '');
  assert.equal(parseRunConfig({ task: 'spirals' }).task, 'spirals');
  assert.throws(() => parseRunConfig({ task: '../x' }), { name: 'ConfigError', message: /^task must be a name of lower-case letters/ });
  assert.throws(() => parseRunConfig({ task: 'a'.repeat(65) }), { name: 'ConfigError' });
});

test('isTask tells a task from other exports', () => {
  assert.equal(isTask(custom('spirals')), true);
  for (const value of [null, undefined, 'mlp', {}, { name: 'x', dataset: 'y', loadData: 1, createModel: () => undefined }]) assert.equal(isTask(value), false);
});
