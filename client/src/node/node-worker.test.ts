/**
 * The Node worker CLI, for real: two processes train 2 steps of the MLP together against a
 * signaling server in this process, over node-datachannel. One is forked with an IPC channel (as
 * the swarm CLI does) and told to stop; the other runs as by hand. Both must end by themselves,
 * with exit code 0, after closing what they opened.
 */
import assert from 'node:assert/strict';
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { listenSignalingServer } from '@tabswarm/signaling-server';
import { isWorkerReport, type StopRequest, type WorkerReport } from '@tabswarm/shared/protocol';

const ENTRY = fileURLToPath(new URL('./node-worker.ts', import.meta.url));
/** Generous: two tfjs processes share a small machine with other work. */
const WAIT_MS = 60_000;

function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // the children are programs, not test files
  return env;
}

/** Resolves with the exit code and signal, or rejects after `ms`. */
function exited(child: ChildProcess, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pid ${child.pid} still running after ${ms} ms`)), ms);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

function collect(stream: NodeJS.ReadableStream | null): () => string {
  let text = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    text += chunk;
  });
  return () => text;
}

test('forked and by hand, the node worker trains, closes everything and exits 0 by itself', { timeout: 120_000 }, async (t) => {
  const server = await listenSignalingServer({ log: { info() {}, error() {} }, staticDir: join(tmpdir(), 'tabswarm-no-such-dir') });
  const { url } = server;
  const args = ['--signal', url, '--room', 'node-worker-test', '--steps', '2', '--workers', '2', '--batchSize', '8', '--evalSize', '20', '--model', 'mlp'];

  const forked = fork(ENTRY, args, { cwd: dirname(ENTRY), execArgv: ['--import', 'tsx'], env: childEnv(), stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  const byHand = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], { cwd: dirname(ENTRY), env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(async () => {
    for (const child of [forked, byHand]) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await server.close();
  });
  const forkedErr = collect(forked.stderr);
  const byHandOut = collect(byHand.stdout);
  const byHandErr = collect(byHand.stderr);
  const forkedExit = exited(forked, 2 * WAIT_MS);
  const byHandExit = exited(byHand, WAIT_MS);

  const reports: WorkerReport[] = [];
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no 'done' report within ${WAIT_MS} ms: ${forkedErr()}`)), WAIT_MS);
    forked.on('message', (message: unknown) => {
      if (!isWorkerReport(message)) return;
      reports.push(message);
      if (message.status.state === 'done') {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  await done;

  // By hand: it stops by itself a few seconds after its last step.
  const hand = await byHandExit;
  assert.deepEqual(hand, { code: 0, signal: null }, byHandErr());
  assert.match(byHandOut(), /done step 2\/2/);
  assert.doesNotMatch(byHandErr(), /still running/, 'ended by itself, not by the watchdog');

  // Forked: it waits for the parent's word, then sends a last report and ends.
  assert.equal(forked.exitCode, null, 'a forked worker keeps running until told to stop');
  const stop: StopRequest = { type: 'stop' };
  forked.send(stop);
  assert.deepEqual(await forkedExit, { code: 0, signal: null }, forkedErr());
  assert.doesNotMatch(forkedErr(), /still running/, 'ended by itself, not by the watchdog');
  const last = reports.at(-1)!;
  assert.equal(last.status.state, 'done');
  assert.equal(last.status.step, 2);
  assert.deepEqual(reports.flatMap((r) => r.records).map((r) => r.step), [1, 2]);
});
