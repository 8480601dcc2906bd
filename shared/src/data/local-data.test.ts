import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DataError } from '../errors.ts';
import { classCounts, csvDataset, imageDataset, type LocalDataSpec, type LocalImage } from './local-data.ts';

const SPIRALS: LocalDataSpec = { shape: [2], classes: 3, scale: 1 };
const TINY_IMAGES: LocalDataSpec = { shape: [2, 2, 1], classes: 10, scale: 255 };

function refused(run: () => unknown, message: string): void {
  assert.throws(run, (err: Error) => {
    assert.ok(err instanceof DataError, `a DataError, got ${err.name}`);
    assert.equal(err.message, message);
    return true;
  });
}

test('a CSV becomes a Dataset: the label column anywhere, values in order, files concatenated', () => {
  const d = csvDataset([
    { name: 'a.csv', text: 'x,label,y\r\n0.5,2,-1\r\n\r\n1e-3,0,4\r\n' },
    { name: 'b.csv', text: '\nlabel,x,y\n1,7,8' },
  ], SPIRALS);
  assert.equal(d.count, 3);
  assert.deepEqual(d.shape, [2]);
  assert.equal(d.classes, 3);
  assert.deepEqual(Array.from(d.labels), [2, 0, 1]);
  assert.deepEqual(Array.from(d.images), [0.5, -1, Math.fround(1e-3), 4, 7, 8]);
  assert.deepEqual(classCounts(d), [1, 1, 1]);
});

test("MNIST's CSV pixels 0-255 become the built-in store's floats, bit for bit (byte / 255)", () => {
  const header = ['label', 'p0', 'p1', 'p2', 'p3'].join(',');
  const d = csvDataset([{ name: 'digits.csv', text: `${header}\n7,0,1,128,255\n` }], TINY_IMAGES);
  assert.deepEqual(Array.from(d.images), [0, 1, 128, 255].map((b) => new Float32Array([b / 255])[0]));
  assert.deepEqual(Array.from(d.labels), [7]);
});

test('every mismatch is a DataError naming the file, the line and the problem', () => {
  refused(() => csvDataset([], SPIRALS), 'no file chosen');
  refused(() => csvDataset([{ name: 'e.csv', text: ' \n\n' }], SPIRALS), 'e.csv: the file is empty');
  refused(() => csvDataset([{ name: 'h.csv', text: 'label,x,y\n' }], SPIRALS), 'h.csv: a header but no rows');
  refused(() => csvDataset([{ name: 'n.csv', text: 'class,x,y\n1,2,3' }], SPIRALS), 'n.csv, line 1: the header has no column named "label" (got "class", "x", "y")');
  refused(() => csvDataset([{ name: 'w.csv', text: 'label,x,y,z\n1,2,3,4' }], SPIRALS), 'w.csv, line 1: 3 value columns besides "label", the task takes 2 (shape 2)');
  refused(() => csvDataset([{ name: 'r.csv', text: 'label,x,y\n1,2,3\n1,2\n' }], SPIRALS), 'r.csv, line 3: 2 values, the header has 3 columns');
  refused(() => csvDataset([{ name: 'v.csv', text: 'label,x,y\n1,2,3\n0,abc,1' }], SPIRALS), 'v.csv, line 3, column "x": "abc" is not a number');
  refused(() => csvDataset([{ name: 'v.csv', text: 'label,x,y\n1,,3' }], SPIRALS), 'v.csv, line 2, column "x": "" is not a number');
  refused(() => csvDataset([{ name: 'i.csv', text: 'label,x,y\n1,Infinity,3' }], SPIRALS), 'i.csv, line 2, column "x": "Infinity" is not a number');
  refused(() => csvDataset([{ name: 'l.csv', text: 'label,x,y\n3,0,0' }], SPIRALS), 'l.csv, line 2: label "3" is not one of the task\'s 3 classes (0-2)');
  refused(() => csvDataset([{ name: 'l.csv', text: 'label,x,y\ncat,0,0' }], SPIRALS), 'l.csv, line 2: label "cat" is not one of the task\'s 3 classes (0-2)');
  refused(() => csvDataset([{ name: 'l.csv', text: 'label,x,y\n1.5,0,0' }], SPIRALS), 'l.csv, line 2: label "1.5" is not one of the task\'s 3 classes (0-2)');
  refused(() => csvDataset([{ name: 'p.csv', text: 'label,a,b,c,d\n1,0,0,256,0' }], TINY_IMAGES), 'p.csv, line 2, column "c": 256 is outside 0-255');
  // The first file is good: the second one's problem is still found and named.
  refused(() => csvDataset([{ name: 'ok.csv', text: 'label,x,y\n1,2,3' }, { name: 'bad.csv', text: '' }], SPIRALS), 'bad.csv: the file is empty');
});

function image(path: string, width: number, height: number, rgb: [number, number, number][]): LocalImage {
  const rgba = new Uint8ClampedArray(width * height * 4);
  rgb.forEach(([r, g, b], p) => rgba.set([r, g, b, 255], 4 * p));
  return { path, width, height, rgba };
}

test('images in folders named by label: grey pixels as bytes / 255, colour by luminance, RGB for three channels', () => {
  const white = [255, 255, 255] as [number, number, number];
  const black = [0, 0, 0] as [number, number, number];
  const d = imageDataset([
    image('digits/4/a.png', 2, 2, [white, black, [100, 100, 100], white]),
    image('digits/0/b.png', 2, 2, [[255, 0, 0], black, black, black]),
  ], TINY_IMAGES);
  assert.equal(d.count, 2);
  assert.deepEqual(Array.from(d.labels), [4, 0]);
  assert.deepEqual(Array.from(d.images.subarray(0, 4)), [255, 0, 100, 255].map((b) => Math.fround(b / 255)));
  assert.equal(d.images[4], Math.fround(76 / 255), 'red: 0.299 x 255, rounded');
  const rgb = imageDataset([image('c/2/x.png', 1, 1, [[10, 20, 30]])], { shape: [1, 1, 3], classes: 3, scale: 255 });
  assert.deepEqual(Array.from(rgb.images), [10, 20, 30].map((b) => Math.fround(b / 255)));
});

test('an image of the wrong size, outside a label folder, or for a task without images is refused by name', () => {
  refused(() => imageDataset([image('d/1/big.png', 3, 2, [])], TINY_IMAGES), 'd/1/big.png: the image is 3x2 pixels, the task takes 2x2');
  refused(() => imageDataset([image('d/ten/x.png', 2, 2, [])], TINY_IMAGES), 'd/ten/x.png: folder: label "ten" is not one of the task\'s 10 classes (0-9)');
  refused(() => imageDataset([image('x.png', 2, 2, [])], TINY_IMAGES), 'x.png: not in a folder; each image goes in a folder named by its label');
  refused(() => imageDataset([image('d/1/x.png', 2, 2, [])], SPIRALS), "this task's examples are shape 2 values, not images: choose a CSV file");
  refused(() => imageDataset([], TINY_IMAGES), 'no image chosen');
});
