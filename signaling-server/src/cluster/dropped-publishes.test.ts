import assert from 'node:assert/strict';
import { test } from 'node:test';
import { handleDroppedPublishes } from './dropped-publishes.ts';

test('a PUBLISH whose promise its caller drops is handled when Redis fails it; a caller that awaits still sees the error', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    const errors: unknown[] = [];
    const client = handleDroppedPublishes({ publish: (channel: string) => Promise.reject(new Error(`socket closed while publishing to ${channel}`)) }, (err) => errors.push(err));
    void client.publish('dropped'); // as the adapter does with a server-side emit
    await assert.rejects(client.publish('awaited'), /publishing to awaited/);
    await new Promise((r) => setTimeout(r, 10)); // unhandled rejections are reported after the microtasks
    assert.deepEqual(unhandled, []);
    assert.deepEqual(errors.map((e) => (e as Error).message), ['socket closed while publishing to dropped', 'socket closed while publishing to awaited']);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});
