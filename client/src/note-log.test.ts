import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NoteLog } from './note-log.ts';

test('keeps only the latest notes', () => {
  const notes = new NoteLog(3);
  for (let i = 1; i <= 5; i++) notes.add('error', `warning ${i}`, i);
  assert.deepEqual(notes.list().map((n) => n.message), ['warning 3', 'warning 4', 'warning 5']);
  assert.equal(new NoteLog().limit, 200);
});

test('a note repeating the one before it is counted, not added', () => {
  const notes = new NoteLog(3);
  notes.add('error', 'frame rejected', 1);
  notes.add('error', 'frame rejected', 2);
  notes.add('error', 'frame rejected', 3);
  notes.add('evicted', 'frame rejected', 4); // same text, other kind: a new note
  notes.add('error', 'frame rejected', 5); // not adjacent to the first run: a new note
  assert.deepEqual(notes.list(), [
    { time: 3, kind: 'error', message: 'frame rejected (x3)' },
    { time: 4, kind: 'evicted', message: 'frame rejected' },
    { time: 5, kind: 'error', message: 'frame rejected' },
  ]);
});

test('a flood of identical warnings stays one note', () => {
  const notes = new NoteLog();
  for (let i = 0; i < 10_000; i++) notes.add('error', 'bad checksum', i);
  assert.deepEqual(notes.list(), [{ time: 9999, kind: 'error', message: 'bad checksum (x10000)' }]);
});
