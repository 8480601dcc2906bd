/**
 * Node workers as child processes with an IPC channel: each pushes its status and new step
 * records (the IPC messages of `@tabswarm/shared/protocol`); its stdout and stderr go to a log file.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isWorkerReport, type StepRecord, type StopRequest, type TabStatus } from '@tabswarm/shared/protocol';
import type { WorkerHandle } from './worker-handle.ts';

/** The Node worker's entry point, exported by the client package. */
export const NODE_WORKER_ENTRY = fileURLToPath(import.meta.resolve('@tabswarm/client/node-worker'));
/** A worker asked to stop gets this long to send its last report and exit before it is killed. */
const STOP_GRACE_MS = 5000;

export interface NodeWorkerInit {
  index: number;
  signalUrl: string;
  room: string;
  backend: string;
  /** @default node-datachannel */
  wrtc?: string;
  /** As a tab's URL parameters: run configuration and link keys. */
  params: Record<string, string>;
  /** An absolute path to a module exporting the task to train (the worker's `--task`); absent: the built-in task. */
  task?: string;
  logFile: string;
}

class NodeWorkerHandle implements WorkerHandle {
  readonly runtime = 'node' as const;
  status: TabStatus | null = null;
  readonly records: StepRecord[] = [];
  failure: string | null = null;
  private exited = false;
  private readonly exit: Promise<void>;
  private stopping = false;

  constructor(readonly index: number, private readonly child: ChildProcess) {
    child.on('message', (message: unknown) => {
      if (!isWorkerReport(message)) return;
      this.status = message.status;
      this.records.push(...message.records);
    });
    this.exit = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exited = true;
        if (!this.stopping) this.failure = `node worker ${index} exited (${signal ?? `code ${code}`}) before it was stopped`;
        resolve();
      });
    });
    child.on('error', (err) => {
      this.failure ??= `node worker ${index}: ${err.message}`;
    });
  }

  refresh(): Promise<void> {
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    if (this.stopping) return this.exit;
    this.stopping = true;
    if (this.exited) return;
    const request: StopRequest = { type: 'stop' };
    if (this.child.connected) this.child.send(request);
    else this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_GRACE_MS);
    await this.exit;
    clearTimeout(timer);
  }
}

export function launchNodeWorker(init: NodeWorkerInit): WorkerHandle {
  const args = ['--signal', init.signalUrl, '--room', init.room, '--backend', init.backend, '--wrtc', init.wrtc ?? 'node-datachannel'];
  if (init.task !== undefined) args.push('--task', init.task);
  for (const [key, value] of Object.entries(init.params)) args.push(`--${key}`, value);
  const log = openSync(init.logFile, 'a');
  try {
    const child = fork(NODE_WORKER_ENTRY, args, {
      cwd: dirname(NODE_WORKER_ENTRY),
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', log, log, 'ipc'],
    });
    return new NodeWorkerHandle(init.index, child);
  } finally {
    closeSync(log); // the child holds its own copy
  }
}
