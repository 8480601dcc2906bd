/**
 * A worker in Node, started from code: tfjs on cpu (or wasm), WebRTC from node-datachannel (or
 * @roamhq/wrtc). Several may run in one process; node-datachannel's threads are released when the
 * last of them stops.
 *
 *   const worker = startNodeWorker({ task, signalingUrl: 'http://127.0.0.1:8080', room: 'lab' });
 *   await worker.finished; console.log(worker.status().weightsHash); await worker.stop();
 */
import { ConfigError } from '@tabswarm/shared/protocol';
import { startWorker, type Worker, type WorkerInit } from '../worker.ts';
import type { NodeBackend } from './args.ts';
import { startNodeBackend } from './node-backend.ts';
import { loadWrtc, releaseWrtc, type WrtcName } from './wrtc.ts';

export interface NodeWorkerInit extends WorkerInit {
  signalingUrl: string;
  /** @default cpu */
  backend?: NodeBackend;
  /** @default node-datachannel */
  wrtc?: WrtcName;
}

/** Workers running per WebRTC implementation: its threads go when the count is back to 0. */
const running = new Map<WrtcName, number>();

export function startNodeWorker(init: NodeWorkerInit): Worker {
  if (!init.signalingUrl) throw new ConfigError('a Node worker needs the signaling server\'s URL (signalingUrl)');
  const wrtc = init.wrtc ?? 'node-datachannel';
  running.set(wrtc, (running.get(wrtc) ?? 0) + 1);
  const worker = startWorker(init, { startBackend: (exclude) => startNodeBackend(init.backend ?? 'cpu', exclude), wrtc: loadWrtc(wrtc) });
  let stopped: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    await worker.stop();
    const left = running.get(wrtc)! - 1;
    running.set(wrtc, left);
    if (left === 0) releaseWrtc(wrtc);
  };
  return { ...worker, stop: () => (stopped ??= stop()) };
}
