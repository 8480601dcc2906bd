/**
 * One swarm run: signaling server -> workers (Node processes and/or Chromium tabs) -> watch until
 * the target accuracy, the step limit, an error or the timeout -> stop everyone -> report folder.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorMessage, parseRunConfig, type RunConfig } from '@tabswarm/shared/protocol';
import { firstStepAtTarget, summarize, workerMetrics, type BystanderMetrics, type RunMetrics, type RunSummary, type StopReason } from './metrics.ts';
import type { RunOptions } from './options.ts';
import { Progress, type ProgressState } from './progress.ts';
import { renderRunReport } from './report-html.ts';
import { importTask, launchNodeWorker, launchTabs, openThrottledBystander, startServer, type RunningServer, type Tabs, type ThrottledBystander, type WorkerHandle } from '@tabswarm/launch';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** How often the workers' state is read and the progress line redrawn. */
const POLL_MS = 500;

export interface RunResult {
  out: string;
  metrics: RunMetrics;
  summary: RunSummary;
}

export interface RunIo {
  progress?: Progress;
  /** Aborting ends the run early ('interrupted'); the report is still written. */
  signal?: AbortSignal;
}

export async function runSwarm(options: RunOptions, io: RunIo = {}): Promise<RunResult> {
  const progress = io.progress ?? new Progress();
  const out = resolve(options.out);
  const logs = join(out, 'logs');
  mkdirSync(logs, { recursive: true });
  const config = parseRunConfig(options.config);
  if (options.tabs > 0) ensureClientBuilt(progress);
  // A task module that does not load or export a task fails here, in one line, before any worker starts.
  if (options.task !== null) await importTask(options.task);

  const startedAt = Date.now();
  const room = options.room ?? `swarm-${randomBytes(4).toString('hex')}`;
  const params: Record<string, string> = { ...(options.config as Record<string, string>), ...(options.link as Record<string, string>) };
  let server: RunningServer | undefined;
  let tabs: Tabs | undefined;
  let bystander: { page: ThrottledBystander; openedAt: number } | undefined;
  let bystanderMetrics: BystanderMetrics | undefined;
  const handles: WorkerHandle[] = [];
  let stopReason: StopReason = 'error';
  let error: string | null = null;
  let roomConfig: RunConfig | null = null;
  let lastState: ProgressState | undefined;
  try {
    server = await startServer({ host: options.host, port: options.port, logFile: join(logs, 'server.log'), defaultConfig: config });
    if (options.bystander > 1) {
      bystander = { page: await openThrottledBystander(options.bystander), openedAt: Date.now() };
      progress.log(`swarm: a page throttled ${options.bystander}x is open beside the room and never joins it`);
    }
    const nodeCount = options.workers - options.tabs;
    progress.log(`swarm: ${options.workers} workers (${nodeCount} node, ${options.tabs} chromium) in room ${room} on ${server.url}; report in ${out}`);
    for (let i = 0; i < nodeCount; i++) {
      handles.push(launchNodeWorker({ index: i, signalUrl: server.url, room, backend: options.nodeBackend, wrtc: options.nodeWrtc, params, logFile: join(logs, `worker-${i}-node.log`), ...(options.task !== null ? { task: options.task } : {}) }));
    }
    if (options.tabs > 0) {
      const query = new URLSearchParams({ room, backend: options.backend, ...params }).toString();
      const url = `${server.url}/?${query}`;
      tabs = await launchTabs({
        count: options.tabs,
        firstIndex: nodeCount,
        browsers: options.browsers,
        url: () => url,
        logFile: (index) => join(logs, `worker-${index}-chromium.log`),
        cpuThrottle: (index) => (index === options.workers - 1 ? options.slowTab : undefined),
        slowBy: options.slowBy,
      });
      handles.push(...tabs.handles);
    }

    for (;;) {
      await sleep(POLL_MS);
      await Promise.all(handles.map((h) => h.refresh()));
      roomConfig ??= handles.find((h) => h.status?.config)?.status?.config ?? null;
      lastState = progressState(handles, roomConfig ?? config, options.target, Date.now() - startedAt);
      progress.update(lastState);

      if (io.signal?.aborted) {
        stopReason = 'interrupted';
        break;
      }
      const failed = handles.find((h) => h.failure !== null || h.status?.state === 'error');
      if (failed) {
        stopReason = 'error';
        error = `worker ${failed.index} (${failed.runtime}): ${failed.failure ?? failed.status?.error ?? 'failed'}`;
        break;
      }
      if (options.target !== null && firstStepAtTarget(handles.flatMap((h) => h.records), options.target) !== null) {
        stopReason = 'target';
        break;
      }
      if (handles.every((h) => h.status?.state === 'done')) {
        stopReason = 'steps';
        break;
      }
      if (Date.now() - startedAt > options.timeoutMs) {
        stopReason = 'timeout';
        error = `no result within ${options.timeoutMs / 1000} s`;
        break;
      }
    }
  } catch (err) {
    stopReason = 'error';
    error = errorMessage(err);
  } finally {
    await Promise.all(handles.map((h) => h.stop().catch(() => undefined)));
    await tabs?.close();
    await server?.close();
    if (bystander) {
      bystanderMetrics = { rate: options.bystander, cpuSeconds: bystander.page.cpuSeconds(), seconds: (Date.now() - bystander.openedAt) / 1000 };
      await bystander.page.close();
      progress.log(`swarm: the throttled page beside the room used ${bystanderMetrics.cpuSeconds.toFixed(1)} CPU seconds in ${bystanderMetrics.seconds.toFixed(1)} s`);
    }
  }

  const endedAt = Date.now();
  roomConfig ??= handles.find((h) => h.status?.config)?.status?.config ?? null;
  if (lastState) progress.done(progressState(handles, roomConfig ?? config, options.target, endedAt - startedAt));
  const metrics: RunMetrics = {
    format: 'tabswarm-metrics/1',
    command: options.command,
    runtime: options.runtime,
    target: options.target,
    config: roomConfig,
    link: options.link,
    startedAt,
    endedAt,
    stopReason,
    error,
    workers: handles.map(workerMetrics),
    ...(bystanderMetrics ? { bystander: bystanderMetrics } : {}),
  };
  const summary = summarize(metrics);
  writeFileSync(join(out, 'metrics.json'), `${JSON.stringify(metrics)}\n`);
  writeFileSync(join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(join(out, 'report.html'), renderRunReport(metrics, summary));
  return { out, metrics, summary };
}

function progressState(handles: readonly WorkerHandle[], config: RunConfig, target: number | null, elapsedMs: number): ProgressState {
  const statuses = handles.map((h) => h.status);
  let accuracy: { step: number; value: number } | null = null;
  for (const h of handles) {
    for (let i = h.records.length - 1; i >= 0; i--) {
      const r = h.records[i]!;
      if (r.testAccuracy === undefined) continue;
      if (!accuracy || r.step > accuracy.step) accuracy = { step: r.step, value: r.testAccuracy };
      break;
    }
  }
  const rates = statuses.map((s) => s?.stepsPerSecond).filter((r): r is number => typeof r === 'number');
  return {
    step: Math.min(...statuses.map((s) => s?.step ?? 0)),
    steps: config.steps,
    accuracy: accuracy?.value ?? null,
    target,
    training: statuses.filter((s) => s?.state === 'training' || s?.state === 'done').length,
    workers: handles.length,
    stepsPerSecond: rates.length ? rates.reduce((a, b) => a + b, 0) / rates.length : null,
    bytesSent: handles.length ? statuses.reduce((n, s) => n + (s?.bytesSent ?? 0), 0) / handles.length : 0,
    elapsedMs,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Tabs load the built client from the signaling server: build it if it is missing or older than its sources. */
function ensureClientBuilt(progress: Progress): void {
  const index = join(REPO_ROOT, 'client', 'dist', 'index.html');
  const built = existsSync(index) ? statSync(index).mtimeMs : -Infinity;
  const newest = Math.max(newestMtime(join(REPO_ROOT, 'client', 'src')), newestMtime(join(REPO_ROOT, 'shared', 'src')));
  if (built >= newest) return;
  progress.log('swarm: building the client for the tabs (npm run build)');
  const result = spawnSync('npm', ['run', 'build'], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  if (result.status !== 0) throw new Error('npm run build failed: the tabs need client/dist');
}

function newestMtime(dir: string): number {
  let newest = -Infinity;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    // client/src/node is not part of the bundle.
    if (entry.parentPath.includes(join('client', 'src', 'node'))) continue;
    if (entry.isFile() && !entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}
