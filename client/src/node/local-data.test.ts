/**
 * `--local-data`: Node workers that train on CSV files of their own, as tabs do with `data=local`.
 * Two forked workers each hold half of the spirals example's training points as a CSV file and
 * train the spirals task together to identical weights, each on its own file; a third names a
 * malformed file and exits with the file, the line and the problem, never joining.
 */
import assert from 'node:assert/strict';
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isWorkerReport, type StopRequest, type TabStatus } from '@tabswarm/shared/protocol';
import { listenSignalingServer } from '@tabswarm/signaling-server';
import { spiralCsv, spiralTable } from '../../../examples/src/spirals-task.ts';

const ENTRY = fileURLToPath(new URL('./node-worker.ts', import.meta.url));
const TASK = fileURLToPath(new URL('../../../examples/src/spirals-task.ts', import.meta.url));
const STEPS = 200;
const WAIT_MS = 90_000;

function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // the children are programs, not test files
  return env;
}

/** The last status a forked worker reported once it is done; rejects after `ms`. */
function doneStatus(child: ChildProcess, ms: number): Promise<TabStatus> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pid ${child.pid}: not done within ${ms} ms`)), ms);
    child.on('message', (message: unknown) => {
      if (!isWorkerReport(message)) return;
      if (message.status.state === 'done' || message.status.state === 'error') {
        clearTimeout(timer);
        resolve(message.status);
      }
    });
  });
}

function exited(child: ChildProcess, ms: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pid ${child.pid} still running after ${ms} ms`)), ms);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

test('--local-data: two Node workers train on CSV files of their own to identical weights; a malformed file is named and that worker never joins', { timeout: 3 * WAIT_MS }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tabswarm-local-data-'));
  const server = await listenSignalingServer({ log: { info() {}, error() {} }, staticDir: join(tmpdir(), 'tabswarm-no-such-dir') });
  const children: ChildProcess[] = [];
  t.after(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });
  const train = spiralTable(3000, 1);
  const files = [join(dir, 'first-half.csv'), join(dir, 'second-half.csv')];
  await writeFile(files[0]!, spiralCsv(train, 0, 1500));
  await writeFile(files[1]!, spiralCsv(train, 1500, 3000));
  const bad = join(dir, 'bad.csv');
  await writeFile(bad, 'label,x,y\n1,0.5,0.25\n2,oops,0.1\n');

  const args = ['--signal', server.url, '--room', 'node-local-data', '--task', TASK, '--steps', String(STEPS), '--workers', '2', '--evalEvery', String(STEPS)];
  const options = { cwd: dirname(ENTRY), env: childEnv() };
  // The malformed file first: it must fail on its own, before joining, and leave the room to the others.
  const malformed = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args, '--local-data', bad], { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(malformed);
  let said = '';
  for (const stream of [malformed.stdout, malformed.stderr]) stream.on('data', (chunk: Buffer) => (said += chunk.toString()));
  const workers = files.map((file) => fork(ENTRY, [...args, '--local-data', file], { ...options, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] }));
  children.push(...workers);

  assert.equal(await exited(malformed, WAIT_MS), 1, said);
  assert.match(said, /bad\.csv.*line 3/);
  const statuses = await Promise.all(workers.map((w) => doneStatus(w, 2 * WAIT_MS)));
  for (const [i, s] of statuses.entries()) {
    assert.equal(s.error, null);
    assert.equal(s.state, 'done');
    assert.equal(s.step, STEPS);
    assert.deepEqual(s.peers, [statuses[1 - i]!.peerId], 'the other worker, and not the malformed file\'s, is its room');
    assert.equal(s.weightsHash, statuses[0]!.weightsHash, 'identical replicas');
    const note = s.events.find((e) => e.kind === 'data' && e.message.startsWith('training on'));
    assert.ok(note, `worker ${i} says what it trains on`);
    assert.match(note.message, new RegExp(`own 1500 examples \\(${['first', 'second'][i]}-half\\.csv\\)`));
  }
  // Three arms: chance is a third. Both halves together teach the whole spiral.
  assert.ok(statuses[0]!.testAccuracy! > 0.6, `accuracy ${statuses[0]!.testAccuracy}`);
  console.log(`--local-data: ${STEPS} steps on two halves of the spirals, test accuracy ${statuses[0]!.testAccuracy!.toFixed(3)}`);
  const stop: StopRequest = { type: 'stop' };
  for (const w of workers) w.send(stop);
  assert.deepEqual(await Promise.all(workers.map((w) => exited(w, WAIT_MS))), [0, 0]);
});
