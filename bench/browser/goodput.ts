/**
 * The goodput page (`goodput.html?role=R&tabs=N&run=ID`), opened N times in one browser context by
 * bench/goodput.ts. The tabs find each other over a BroadcastChannel (same origin, same context:
 * no signaling server needed) and then:
 *
 * 1. Bare channel: roles 0 and 1 open one RTCPeerConnection with one ordered RTCDataChannel;
 *    role 0 sends `bareBytes` in 256 KiB messages under backpressure (a 4 MiB high-water mark,
 *    woken by `bufferedamountlow`); role 1 answers once all arrived. MB/s = bytes / (start to answer).
 * 2. Bare ring: the ring's traffic without tabswarm: every role sends `bareRingBytes` to the next
 *    role over a bare channel while it receives as many from the previous one, all at once.
 * 3. Ring: every role runs tabswarm's own path (WebRtcTransport, Messenger, RingCollective) and
 *    sums a `values`-long f32 vector `rounds` times (after `warmup` untimed rounds), with the ring
 *    and then with the two-shot all-reduce. Per round: the time inside allReduceSum and this tab's
 *    bytes sent, as the session measures a step. Results are keyed `<algorithm>:<values>`.
 *
 * Results go to `window.goodput`, a failure to `window.goodputError`.
 */
import { ALL_REDUCE_ALGORITHMS, Messenger, RingCollective, deadline } from '@tabswarm/shared';
import { WebRtcTransport } from '@tabswarm/client/webrtc-transport';

export interface RingRound {
  ms: number;
  bytesSent: number;
}

export interface GoodputResult {
  role: number;
  bare?: { bytes: number; ms: number; messageBytes: number; highWaterBytes: number };
  /** The ring's traffic on bare channels: bytes each tab sent, and per round the ms until this tab had received as many. */
  bareRing: { bytes: number; ms: number[] };
  ring: Record<string, RingRound[]>;
}

declare global {
  interface Window {
    goodput?: GoodputResult;
    goodputError?: string;
  }
}

const MESSAGE_BYTES = 256 * 1024;
const HIGH_WATER_BYTES = 4 * 1024 * 1024;
const WAIT_MS = 60_000;

type Note = { from: number; to: number; kind: string; data: unknown };

const params = new URLSearchParams(location.search);
const num = (name: string, fallback: number): number => Number(params.get(name) ?? fallback);
const role = num('role', 0);
const tabs = num('tabs', 3);
const channel = new BroadcastChannel(`tabswarm-goodput-${params.get('run') ?? 'x'}`);
const inbox: Note[] = [];
const listeners = new Set<() => void>();
channel.onmessage = (e: MessageEvent<Note>): void => {
  if (e.data.to !== role) return;
  inbox.push(e.data);
  for (const wake of [...listeners]) wake();
};
const post = (to: number, kind: string, data: unknown = null): void => channel.postMessage({ from: role, to, kind, data } satisfies Note);

/** The next note of `kind` (from `from`, or anyone), within the deadline. */
function next(kind: string, from?: number): Promise<Note> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      listeners.delete(check);
      reject(new Error(`role ${role}: no ${kind} within ${WAIT_MS} ms`));
    }, WAIT_MS);
    const check = (): void => {
      const i = inbox.findIndex((n) => n.kind === kind && (from === undefined || n.from === from));
      if (i < 0) return;
      listeners.delete(check);
      clearTimeout(timer);
      resolve(inbox.splice(i, 1)[0]!);
    };
    listeners.add(check);
    check();
  });
}

/** One bare RTCPeerConnection with `peer` and its one ordered data channel, open; `tag` keeps connections apart. */
async function openBareChannel(peer: number, offerer: boolean, tag: string): Promise<{ pc: RTCPeerConnection; dc: RTCDataChannel }> {
  const pc = new RTCPeerConnection({ iceServers: [] });
  pc.onicecandidate = (e): void => post(peer, `${tag}:ice`, e.candidate?.toJSON() ?? null);
  void (async () => {
    while (pc.connectionState !== 'closed') {
      const note = await next(`${tag}:ice`, peer).catch(() => null);
      if (!note?.data) return;
      await pc.addIceCandidate(note.data as RTCIceCandidateInit);
    }
  })();
  let dc: RTCDataChannel;
  if (offerer) {
    dc = pc.createDataChannel(tag, { ordered: true });
    await pc.setLocalDescription(await pc.createOffer());
    post(peer, `${tag}:sdp`, pc.localDescription!.toJSON());
    await pc.setRemoteDescription((await next(`${tag}:sdp`, peer)).data as RTCSessionDescriptionInit);
  } else {
    const opened = new Promise<RTCDataChannel>((resolve) => (pc.ondatachannel = (e): void => resolve(e.channel)));
    await pc.setRemoteDescription((await next(`${tag}:sdp`, peer)).data as RTCSessionDescriptionInit);
    await pc.setLocalDescription(await pc.createAnswer());
    post(peer, `${tag}:sdp`, pc.localDescription!.toJSON());
    dc = await opened;
  }
  dc.binaryType = 'arraybuffer';
  if (dc.readyState !== 'open') await new Promise((resolve) => dc.addEventListener('open', resolve, { once: true }));
  return { pc, dc };
}

/** Sends `bytes` in MESSAGE_BYTES messages, never more than HIGH_WATER_BYTES buffered. */
async function sendBare(dc: RTCDataChannel, bytes: number): Promise<void> {
  dc.bufferedAmountLowThreshold = HIGH_WATER_BYTES / 2;
  const message = new Uint8Array(MESSAGE_BYTES);
  for (let sent = 0; sent < bytes; sent += MESSAGE_BYTES) {
    if (dc.bufferedAmount > HIGH_WATER_BYTES) await new Promise((resolve) => dc.addEventListener('bufferedamountlow', resolve, { once: true }));
    dc.send(message.subarray(0, Math.min(MESSAGE_BYTES, bytes - sent)));
  }
}

/** Resolves once `bytes` have arrived on `dc`. */
function receiveBare(dc: RTCDataChannel, bytes: number): Promise<void> {
  let got = 0;
  return new Promise<void>((resolve) => {
    dc.onmessage = (e: MessageEvent<ArrayBuffer>): void => {
      got += e.data.byteLength;
      if (got >= bytes) resolve();
    };
  });
}

/** Role 0 and 1: one bare data channel, `bytes` from 0 to 1. */
async function bareChannel(bytes: number): Promise<GoodputResult['bare']> {
  const { pc, dc } = await openBareChannel(1 - role, role === 0, 'bare');
  if (role === 1) {
    await receiveBare(dc, bytes);
    dc.send(new Uint8Array(1));
    await new Promise((r) => setTimeout(r, 500)); // let the answer leave before closing
    pc.close();
    return undefined;
  }
  const answered = new Promise<void>((resolve) => (dc.onmessage = (): void => resolve()));
  const began = performance.now();
  await sendBare(dc, bytes);
  await answered;
  const ms = performance.now() - began;
  pc.close();
  return { bytes, ms, messageBytes: MESSAGE_BYTES, highWaterBytes: HIGH_WATER_BYTES };
}

/**
 * Every role: the ring's traffic over bare channels, without tabswarm. Each tab sends `bytes` to
 * the next tab while it receives as many from the previous one, all tabs at once, `rounds` times.
 * Per round: the time from the common start until this tab has received everything.
 */
async function bareRing(bytes: number, rounds: number): Promise<number[]> {
  const [right, left] = [(role + 1) % tabs, (role + tabs - 1) % tabs];
  const [out, inn] = await Promise.all([openBareChannel(right, true, 'ring'), openBareChannel(left, false, 'ring')]);
  const times: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const arrived = receiveBare(inn.dc, bytes);
    if (role === 0) {
      for (let r = 1; r < tabs; r++) await next('ring-ready');
      for (let r = 1; r < tabs; r++) post(r, 'ring-start');
    } else {
      post(0, 'ring-ready');
      await next('ring-start');
    }
    const began = performance.now();
    await Promise.all([sendBare(out.dc, bytes), arrived]);
    times.push(performance.now() - began);
  }
  // Nobody closes while a neighbour still receives.
  for (let r = 0; r < tabs; r++) if (r !== role) post(r, 'bare-ring-done');
  for (let r = 1; r < tabs; r++) await next('bare-ring-done');
  out.pc.close();
  inn.pc.close();
  return times;
}

/** Every role: tabswarm's ring among all tabs. */
async function ring(sizes: number[], warmup: number, rounds: number): Promise<GoodputResult['ring']> {
  const ids = Array.from({ length: tabs }, (_, r) => `p${r}`);
  const transport = new WebRtcTransport(ids[role]!, {
    relay: (to, data) => post(ids.indexOf(to), 'signal', data),
  });
  const listener = async (): Promise<void> => {
    for (;;) {
      const note = await next('signal').catch(() => null);
      if (!note) return;
      transport.handleSignal(ids[note.from]!, note.data);
    }
  };
  void listener();
  const connecting = deadline(WAIT_MS, 'connecting the ring');
  await transport.connect(ids, connecting.signal);
  connecting.clear();
  const messenger = new Messenger(transport);
  const out: GoodputResult['ring'] = {};
  let step = 0;
  try {
    for (const allReduce of ALL_REDUCE_ALGORITHMS) for (const size of sizes) {
      const values = Float32Array.from({ length: size }, (_, i) => Math.sin(i + role));
      const timed: RingRound[] = [];
      for (let round = 0; round < warmup + rounds; round++) {
        const limit = deadline(WAIT_MS, `${allReduce} round ${round}`);
        try {
          const collective = new RingCollective({ messenger, members: ids, epoch: 1, step: ++step, signal: limit.signal, codec: 0, allReduce });
          const sentBefore = messenger.stats.bytesSent;
          const began = performance.now();
          await collective.allReduceSum(values, 0);
          const ms = performance.now() - began;
          if (round >= warmup) timed.push({ ms, bytesSent: messenger.stats.bytesSent - sentBefore });
          messenger.advance(1, step + 1);
        } finally {
          limit.clear();
        }
      }
      out[`${allReduce}:${size}`] = timed;
    }
  } finally {
    // Everyone finishes the last round before anyone closes: a closed channel would fail a peer's sends.
    for (let r = 0; r < tabs; r++) if (r !== role) post(r, 'ring-done');
    for (let r = 1; r < tabs; r++) await next('ring-done');
    messenger.dispose();
    transport.close();
  }
  return out;
}

async function main(): Promise<void> {
  const bareBytes = num('bareBytes', 64 * 1024 * 1024);
  const sizes = (params.get('sizes') ?? '1070000').split(',').map(Number);
  const warmup = num('warmup', 2);
  const rounds = num('rounds', 10);
  // Barrier: every tab is listening before anyone starts.
  if (role === 0) {
    for (let r = 1; r < tabs; r++) await next('ready');
  } else post(0, 'ready');
  let bare: GoodputResult['bare'];
  if (role <= 1) bare = await bareChannel(bareBytes);
  // Each part starts after the last, so no two share the machine.
  const barrier = async (kind: string): Promise<void> => {
    if (role === 0) for (let r = 1; r < tabs; r++) post(r, kind);
    else await next(kind);
  };
  await barrier('bare-ring-go');
  const bareRingBytes = num('bareRingBytes', 0);
  const bareRingMs = await bareRing(bareRingBytes, rounds);
  await barrier('ring-go');
  const result: GoodputResult = { role, ring: await ring(sizes, warmup, rounds), bareRing: { bytes: bareRingBytes, ms: bareRingMs }, ...(bare ? { bare } : {}) };
  window.goodput = result;
}

main().catch((err: unknown) => {
  window.goodputError = err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err);
  console.error(window.goodputError);
});
