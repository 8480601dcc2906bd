/**
 * Every wait has a deadline. These helpers turn a parent AbortSignal plus a time limit into one
 * signal whose reason is a named error (TimeoutError, AbortedError), and wait on promises with it.
 */
import { AbortedError, TimeoutError } from './errors.ts';

export interface Deadline {
  readonly signal: AbortSignal;
  /** Stops the timer; call when the guarded work is over. */
  clear(): void;
}

/** A signal that aborts after `ms` with TimeoutError(`what`), or when `parent` aborts. */
export function deadline(ms: number, what: string, parent?: AbortSignal): Deadline {
  const controller = new AbortController();
  const onParentAbort = (): void => controller.abort(parent?.reason ?? new AbortedError(`${what}: aborted`));
  if (parent?.aborted) onParentAbort();
  else parent?.addEventListener('abort', onParentAbort, { once: true });
  const timer = setTimeout(() => controller.abort(new TimeoutError(`${what}: no answer within ${Math.round(ms)} ms`)), ms);
  return {
    signal: controller.signal,
    clear() {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onParentAbort);
    },
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
