/**
 * Lets the event loop run (rendering, network events) between steps without timers: Chromium
 * throttles setTimeout in background tabs, but not MessageChannel messages. Node has setImmediate,
 * which also keeps the process alive while the loop runs (an idle MessagePort would not).
 */
const immediate = (globalThis as { setImmediate?: (callback: () => void) => unknown }).setImmediate;
let channel: InstanceType<typeof MessageChannel> | undefined;
const pending: Array<() => void> = [];

export function yieldToEventLoop(): Promise<void> {
  if (immediate) return new Promise((resolve) => immediate(resolve));
  if (!channel) {
    channel = new MessageChannel();
    // Typed by hand: Node's MessagePort typings lack onmessage (Node takes the setImmediate path).
    (channel.port1 as unknown as { onmessage: () => void }).onmessage = () => pending.shift()?.();
  }
  return new Promise((resolve) => {
    pending.push(resolve);
    channel!.port2.postMessage(0);
  });
}
