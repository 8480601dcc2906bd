import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openThrottledBystander } from './tabs.ts';

// Why `--bystander` exists: Chromium's CPU throttling spins the throttled page's thread while it
// waits, so a page that does nothing still keeps most of a core busy, and the CPU it used is counted.
test('a throttled page that does nothing keeps a core busy, and its CPU is counted', { timeout: 60_000 }, async () => {
  const bystander = await openThrottledBystander(16);
  try {
    // Past the browser's own start-up work (~1.7 CPU seconds here).
    await new Promise((r) => setTimeout(r, 2000));
    const began = Date.now();
    const before = bystander.cpuSeconds();
    await new Promise((r) => setTimeout(r, 2000));
    const used = bystander.cpuSeconds() - before;
    const seconds = (Date.now() - began) / 1000;
    // Alone it takes a whole core (measured: 1.0; unthrottled, 0.03); beside two busy test files on two cores, ~0.67.
    assert.ok(used > 0.25 * seconds, `an idle page throttled 16x used ${used} CPU seconds in ${seconds} s`);
  } finally {
    await bystander.close();
  }
});
