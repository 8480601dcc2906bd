/**
 * The goodput page (`goodput.html?role=R&tabs=N&run=ID`), opened N times in one browser context by
 * bench/goodput.ts. The tabs find each other over a BroadcastChannel (same origin, same context:
 * no signaling server needed) and then:
 *
 * 1. Bare channel: roles 0 and 1 open one RTCPeerConnection with one ordered RTCDataChannel;
 *    role 0 sends `bareBytes` in 256 KiB messages under backpressure (a 4 MiB high-water mark,
 *    woken by `bufferedamountlow`); role 1 answers once all arrived. MB/s = bytes / (start to answer).
 * 2. Ring: every role runs tabswarm's own path (WebRtcTransport, Messenger, RingCollective) and
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

/** The next note of `kind` (from anyone), within the deadline. */
function next(kind: string): Promise<Note> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      listeners.delete(check);
      reject(new Error(`role ${role}: no ${kind} within ${WAIT_MS} ms`));
    }, WAIT_MS);
    const check = (): void => {
      const i = inbox.findIndex((n) => n.kind === kind);
      if (i < 0) return;
      listeners.delete(check);
      clearTimeout(timer);
      resolve(inbox.splice(i, 1)[0]!);
    };
    listeners.add(check);
    check();
  });
}

/** Role 0 and 1: one bare data channel, `bytes` from 0 to 1. */
async function bareChannel(bytes: number): Promise<GoodputResult['bare']> {
  const pc = new RTCPeerConnection({ iceServers: [] });
  const peer = 1 - role;
  pc.onicecandidate = (e): void => post(peer, 'ice', e.candidate?.toJSON() ?? null);
  void (async () => {
    for (;;) {
      const note = await next('ice').catch(() => null);
      if (!note) return;
      if (note.data) await pc.addIceCandidate(note.data as RTCIceCandidateInit);
    }
  })();
  let dc: RTCDataChannel;
  if (role === 0) {
    dc = pc.createDataChannel('bare', { ordered: true });
    await pc.setLocalDescription(await pc.createOffer());
    post(peer, 'sdp', pc.localDescription!.toJSON());
    await pc.setRemoteDescription((await next('sdp')).data as RTCSessionDescriptionInit);
  } else {
    const opened = new Promise<RTCDataChannel>((resolve) => (pc.ondatachannel = (e): void => resolve(e.channel)));
    await pc.setRemoteDescription((await next('sdp')).data as RTCSessionDescriptionInit);
    await pc.setLocalDescription(await pc.createAnswer());
    post(peer, 'sdp', pc.localDescription!.toJSON());
    dc = await opened;
  }
  dc.binaryType = 'arraybuffer';
  if (dc.readyState !== 'open') await new Promise((resolve) => dc.addEventListener('open', resolve, { once: true }));
  if (role === 1) {
    let got = 0;
    await new Promise<void>((resolve) => {
      dc.onmessage = (e: MessageEvent<ArrayBuffer>): void => {
        got += e.data.byteLength;
        if (got >= bytes) resolve();
      };
    });
    dc.send(new Uint8Array(1));
    await new Promise((r) => setTimeout(r, 500)); // let the answer leave before closing
    pc.close();
    return undefined;
  }
  const answered = new Promise<void>((resolve) => (dc.onmessage = (): void => resolve()));
  dc.bufferedAmountLowThreshold = HIGH_WATER_BYTES / 2;
  const message = new Uint8Array(MESSAGE_BYTES);
  const began = performance.now();
  for (let sent = 0; sent < bytes; sent += MESSAGE_BYTES) {
    if (dc.bufferedAmount > HIGH_WATER_BYTES) await new Promise((resolve) => dc.addEventListener('bufferedamountlow', resolve, { once: true }));
    dc.send(message);
  }
  await answered;
  const ms = performance.now() - began;
  pc.close();
  return { bytes, ms, messageBytes: MESSAGE_BYTES, highWaterBytes: HIGH_WATER_BYTES };
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
  // The ring starts after the bare transfer, so the two never share the machine.
  if (role === 0) for (let r = 1; r < tabs; r++) post(r, 'ring-go');
  else await next('ring-go');
  const result: GoodputResult = { role, ring: await ring(sizes, warmup, rounds), ...(bare ? { bare } : {}) };
  window.goodput = result;
}

main().catch((err: unknown) => {
  window.goodputError = err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err);
  console.error(window.goodputError);
});
