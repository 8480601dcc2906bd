/**
 * Log volume under a flood of bad events: each connection writes at most a burst of error lines
 * and one per second after, however many events it gets refused.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LIMIT, rawAck } from '../testing.ts';
import type { Logger } from '../server.ts';
import { arena, ATTACKER } from './kit.ts';

test('150 malformed events write a bounded number of log lines, each short', LIMIT, async (t) => {
  const lines: string[] = [];
  const log: Logger = { info: (line) => lines.push(line), error: (line) => lines.push(line) };
  const h = await arena(t, { log });
  const tab = await h.from(ATTACKER);
  const started = performance.now();
  let refused = 0;
  // 150 x 20 kB stays inside the address's byte budget (8 MiB at once), so every event is
  // answered however fast they go; the values are still far longer than a log line may quote.
  for (let i = 0; i < 150; i++) {
    const result = await rawAck(tab, 'room:join', { room: `bad room ${'!'.repeat(20_000)}` });
    if (!result.ok && result.error.name === 'ValidationError') refused += 1;
  }
  const seconds = (performance.now() - started) / 1000;
  t.diagnostic(`${refused} refused in ${seconds.toFixed(1)} s: ${lines.length} log lines, longest ${Math.max(...lines.map((l) => l.length))} characters`);
  assert.equal(refused, 150, 'every event answered');
  assert.ok(lines.length <= 20 + Math.ceil(seconds) + 1, `${lines.length} lines`);
  assert.ok(lines.every((l) => l.length < 400));
});
