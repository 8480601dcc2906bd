import assert from 'node:assert/strict';
import { test } from 'node:test';
import { localDataLines } from './local-data-panel.ts';

test('the file choice says the data stays in the tab, and what the task takes: CSV always, images for image tasks', () => {
  const mnist = localDataLines({ shape: [28, 28, 1], classes: 10, scale: 255 });
  assert.match(mnist[0]!, /^Your data stays in this tab: the files are read and checked here and never uploaded\. Nothing but the model's updates/);
  assert.equal(mnist[1], 'CSV: a header row with a column named "label" (0-9) and 784 more columns (shape 28x28x1), values 0-255 (pixels, divided by 255 here); one example per row.');
  assert.equal(mnist[2], 'Images: a folder with one sub-folder per label (0-9), each image 28x28 pixels (turned to grey).');
  const spirals = localDataLines({ shape: [2], classes: 3, scale: 1 });
  assert.equal(spirals.length, 2, 'no images for a task of two values');
  assert.equal(spirals[1], 'CSV: a header row with a column named "label" (0-2) and 2 more columns (shape 2), the values as the model takes them; one example per row.');
});
