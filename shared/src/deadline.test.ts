import assert from 'node:assert/strict';
import { getEventListeners, once } from 'node:events';
import { describe, it } from 'node:test';
import { TimeoutError } from './errors.ts';
import { deadline, raceSignal, waitForAbort } from './deadline.ts';

/** Live timers of this process (setTimeout handles not yet fired or cleared). */
const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
const listeners = (signal: AbortSignal): number => getEventListeners(signal, 'abort').length;

describe('deadline', () => {
  it('clear() stops the timer, lets go of the parent and aborts its signal with AbortedError', () => {
    const parent = new AbortController();
    const base = timers();
    const limit = deadline(60_000, 'step 7', parent.signal);
    assert.equal(timers(), base + 1);
    assert.equal(listeners(parent.signal), 1);
    assert.equal(limit.signal.aborted, false);
    limit.clear();
    assert.equal(timers(), base);
    assert.equal(listeners(parent.signal), 0);
    assert.equal(limit.signal.aborted, true);
    assert.equal((limit.signal.reason as Error).name, 'AbortedError');
    assert.match((limit.signal.reason as Error).message, /^step 7: over$/);
    // The parent is untouched, and a second clear() changes nothing.
    assert.equal(parent.signal.aborted, false);
    const reason: unknown = limit.signal.reason;
    limit.clear();
    assert.equal(limit.signal.reason, reason);
  });

  it("a parent's abort passes its named reason through and leaves no timer or listener", () => {
    const parent = new AbortController();
    const base = timers();
    const limit = deadline(60_000, 'sync', parent.signal);
    parent.abort(new TimeoutError('upstream', 'peer-x'));
    assert.equal(timers(), base);
    assert.equal(listeners(parent.signal), 0);
    assert.equal((limit.signal.reason as TimeoutError).name, 'TimeoutError');
    assert.equal((limit.signal.reason as TimeoutError).suspect, 'peer-x');
    limit.clear(); // after the fact: the reason stays the parent's
    assert.equal((limit.signal.reason as Error).message, 'upstream');
  });

  it('a parent aborted without an Error gives an AbortedError', () => {
    const parent = new AbortController();
    parent.abort('just a string');
    const base = timers();
    const limit = deadline(60_000, 'hello', parent.signal);
    assert.equal(timers(), base, 'no timer for a deadline that is over at birth');
    assert.equal(listeners(parent.signal), 0);
    assert.equal((limit.signal.reason as Error).name, 'AbortedError');
  });

  it('the timer aborts with TimeoutError and removes the listener on the parent at once', async () => {
    const parent = new AbortController();
    const limit = deadline(1, 'waiting for b', parent.signal);
    await once(limit.signal, 'abort');
    assert.equal((limit.signal.reason as Error).name, 'TimeoutError');
    assert.equal((limit.signal.reason as Error).message, 'waiting for b: no answer within 1 ms');
    assert.equal(listeners(parent.signal), 0);
    limit.clear();
    assert.equal((limit.signal.reason as Error).name, 'TimeoutError');
  });

  it('many deadlines on one parent leave no listener behind once cleared', () => {
    const parent = new AbortController();
    const limits = Array.from({ length: 100 }, (_, i) => deadline(60_000, `step ${i}`, parent.signal));
    assert.equal(listeners(parent.signal), 100);
    for (const limit of limits) limit.clear();
    assert.equal(listeners(parent.signal), 0);
  });
});

describe('waitForAbort', () => {
  it('resolves when the signal aborts and leaves no timer or listener', async () => {
    const controller = new AbortController();
    const base = timers();
    const waiting = waitForAbort(controller.signal, 60_000);
    assert.equal(timers(), base + 1);
    assert.equal(listeners(controller.signal), 1);
    controller.abort();
    await waiting;
    assert.equal(timers(), base);
    assert.equal(listeners(controller.signal), 0);
  });

  it('without a time limit it sets no timer and resolves only when the signal aborts', async () => {
    const controller = new AbortController();
    const base = timers();
    let resolved = false;
    const waiting = waitForAbort(controller.signal).then(() => (resolved = true));
    assert.equal(timers(), base);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(resolved, false);
    controller.abort();
    await waiting;
    assert.equal(listeners(controller.signal), 0);
  });

  it('resolves at its time limit and removes its listener', async () => {
    const controller = new AbortController();
    await waitForAbort(controller.signal, 1);
    assert.equal(listeners(controller.signal), 0);
    assert.equal(controller.signal.aborted, false);
  });
});

describe('raceSignal', () => {
  it("the promise's result wins if it settles first, and the listener goes", async () => {
    const controller = new AbortController();
    assert.equal(await raceSignal(Promise.resolve(42), controller.signal, 'x'), 42);
    await assert.rejects(raceSignal(Promise.reject(new TimeoutError('slow')), controller.signal, 'x'), { name: 'TimeoutError' });
    assert.equal(listeners(controller.signal), 0);
  });

  it("rejects with the signal's named reason on abort", async () => {
    const limit = deadline(60_000, 'connecting');
    const racing = raceSignal(new Promise<never>(() => undefined), limit.signal, 'x');
    limit.clear();
    await assert.rejects(racing, { name: 'AbortedError', message: 'connecting: over' });
  });
});
