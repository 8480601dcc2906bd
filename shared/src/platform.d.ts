/**
 * The few web-platform globals that both browsers and Node provide. shared/ compiles without the
 * DOM and Node libraries so that nothing else slips in; these are declared here by hand.
 */
declare global {
  interface AbortSignal {
    readonly aborted: boolean;
    readonly reason: unknown;
    addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
    removeEventListener(type: 'abort', listener: () => void): void;
  }
  interface AbortController {
    readonly signal: AbortSignal;
    abort(reason?: unknown): void;
  }
  var AbortController: { prototype: AbortController; new (): AbortController };
  function setTimeout(handler: () => void, ms?: number): unknown;
  function clearTimeout(handle: unknown): void;
  function queueMicrotask(callback: () => void): void;
  class TextEncoder {
    encode(input?: string): Uint8Array;
  }
  class TextDecoder {
    constructor(label?: string, options?: { fatal?: boolean });
    decode(input?: Uint8Array): string;
  }
  var performance: { now(): number };
  class MessageChannel {
    readonly port1: { onmessage: (() => void) | null; close(): void };
    readonly port2: { postMessage(message: unknown): void; close(): void };
  }
}
export {};
