import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WireFormatError } from '../errors.ts';
import { assemble, closingLine, multipartBoundary, parseContentRange, parseMultipart, parseRangeHeader, partHead, rangeHeader, recordRanges } from './byte-ranges.ts';

test('records become ranges, neighbours joined, and a Range header', () => {
  const ranges = recordRanges([0, 1, 2, 5, 7, 8], 16, 10);
  assert.deepEqual(ranges, [{ start: 16, end: 46 }, { start: 66, end: 76 }, { start: 86, end: 106 }]);
  assert.equal(rangeHeader(ranges), 'bytes=16-45,66-75,86-105');
  assert.deepEqual(recordRanges([], 16, 10), []);
});

test('a Range header parses, clamps, and refuses what is not served as ranges', () => {
  assert.deepEqual(parseRangeHeader('bytes=16-45,66-75', 100, 10), [{ start: 16, end: 46 }, { start: 66, end: 76 }]);
  assert.deepEqual(parseRangeHeader('bytes=90-200', 100, 10), [{ start: 90, end: 100 }]);
  assert.deepEqual(parseRangeHeader('bytes=95-', 100, 10), [{ start: 95, end: 100 }]);
  assert.deepEqual(parseRangeHeader('bytes=-10', 100, 10), [{ start: 90, end: 100 }]);
  assert.deepEqual(parseRangeHeader('bytes=100-120', 100, 10), [], 'nothing satisfiable');
  for (const bad of ['items=0-1', 'bytes=', 'bytes=5-2', 'bytes=a-b', 'bytes=10-20,15-30', 'bytes=20-30,0-5']) {
    assert.equal(parseRangeHeader(bad, 100, 10), null, bad);
  }
  assert.equal(parseRangeHeader(rangeHeader(recordRanges([0, 2, 4], 0, 1)), 100, 2), null, 'more ranges than allowed');
});

test('a multipart/byteranges body as a server writes it parses back to its parts', () => {
  const file = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) % 256);
  const ranges = [{ start: 3, end: 10 }, { start: 100, end: 101 }, { start: 250, end: 300 }];
  const text = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));
  const boundary = 'b0undary';
  const body = Uint8Array.from([
    ...ranges.flatMap((r) => [...text(partHead(boundary, r, file.length, 'application/octet-stream')), ...file.subarray(r.start, r.end)]),
    ...text(closingLine(boundary)),
  ]);
  assert.equal(multipartBoundary(`multipart/byteranges; boundary=${boundary}`), boundary);
  assert.equal(multipartBoundary('application/octet-stream'), null);
  const parts = parseMultipart(body, boundary);
  assert.deepEqual(parts.map((p) => p.start), [3, 100, 250]);
  const wanted = [{ start: 4, end: 8 }, { start: 100, end: 101 }, { start: 260, end: 262 }];
  assert.deepEqual(assemble(wanted, parts), Uint8Array.from([...file.subarray(4, 8), file[100]!, ...file.subarray(260, 262)]));
  assert.throws(() => assemble([{ start: 0, end: 2 }], parts), WireFormatError);
  // Parts in any order, one inside another: each range from a part that holds all of it.
  const whole = { start: 0, bytes: file.subarray(0, 300) };
  const shuffled = [parts[2]!, whole, parts[0]!, parts[1]!];
  assert.deepEqual(assemble([{ start: 260, end: 262 }, { start: 5, end: 120 }, { start: 100, end: 101 }], shuffled), Uint8Array.from([...file.subarray(260, 262), ...file.subarray(5, 120), file[100]!]));
  assert.throws(() => assemble([{ start: 250, end: 400 }], shuffled), WireFormatError);
  assert.throws(() => parseMultipart(body.subarray(0, body.length - 20), boundary), WireFormatError);
  assert.deepEqual(parseContentRange('bytes 5-9/100'), { start: 5, end: 10 });
  assert.throws(() => parseContentRange('bytes */100'), WireFormatError);
});
