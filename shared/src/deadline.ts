/**
 * Every wait has a deadline. These helpers turn a parent AbortSignal plus a time limit into one
 * signal whose reason is a named error (TimeoutError, AbortedError), and wait on promises with it.
 */
import { AbortedError, TimeoutError } from './errors.ts';

export interface Deadline {
  readonly signal: AbortSignal;
  /**
   * The guarded work is over: stops the timer, lets go of the parent signal and aborts `signal`
   * (with AbortedError) so that waits still bound to it (e.g. the receives of a step whose other
   * leg failed) are released instead of lingering. Idempotent.
   */
  clear(): void;
}

/**
 * A signal that aborts after `ms` with TimeoutError(`what`), when `parent` aborts (with its
 * reason), or at clear(). Whichever comes first ends it: the timer and the listener on `parent`
 * go with it, so nothing outlives the deadline.
 */
export function deadline(ms: number, what: string, parent?: AbortSignal): Deadline {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const end = (reason: Error): void => {
    if (controller.signal.aborted) return;
    clearTimeout(timer);
    parent?.removeEventListener('abort', onParentAbort);
    controller.abort(reason);
  };
  const onParentAbort = (): void => end(abortReason(parent!, what));
  if (parent?.aborted) onParentAbort();
  else {
    parent?.addEventListener('abort', onParentAbort, { once: true });
    timer = setTimeout(() => end(new TimeoutError(`${what}: no answer within ${Math.round(ms)} ms`)), ms);
  }
  return {
    signal: controller.signal,
    clear: () => end(new AbortedError(`${what}: over`)),
  };
}

/** The reason of an aborted signal as an Error (named errors pass through). */
export function abortReason(signal: AbortSignal, what: string): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new AbortedError(`${what}: aborted`);
}

/** Races `promise` against `signal`; the promise's own result wins if it settles first. */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  if (signal.aborted) return Promise.reject(abortReason(signal, what));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal, what));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/**
 * Resolves when `signal` aborts or after `ms` (without `ms`, only when it aborts, and no timer
 * keeps a process alive meanwhile), whichever comes first; never rejects. Leaves no timer or
 * listener behind.
 */
export function waitForAbort(signal: AbortSignal, ms?: number): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = ms === undefined ? undefined : setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
