/**
 * The swarm CLI: `npm run swarm -- [options]` runs one swarm and writes its report;
 * `npm run swarm -- sweep [options]` runs a sweep; `npm run swarm -- report DIR` draws stored
 * results again. See USAGE in options.ts and docs/SWARM.md.
 */
import { errorMessage } from '@tabswarm/shared/protocol';
import { parseCommand, USAGE, type Command } from './options.ts';
import { formatBytes, Progress } from './progress.ts';
import { rerender } from './rerender.ts';
import { runSwarm } from './run.ts';
import { describeRow, runSweep } from './sweep.ts';

async function main(): Promise<number> {
  let command: Command;
  try {
    command = parseCommand(process.argv.slice(2));
  } catch (err) {
    console.error(`swarm: ${errorMessage(err)}\n\n${USAGE}`);
    return 2;
  }
  if (command.kind === 'help') {
    console.log(USAGE);
    return 0;
  }
  if (command.kind === 'report') {
    try {
      for (const file of rerender(command.dir)) console.log(`wrote ${file}`);
      return 0;
    } catch (err) {
      console.error(`swarm: ${errorMessage(err)}`);
      return 1;
    }
  }

  const progress = new Progress();
  const abort = new AbortController();
  process.on('SIGINT', () => {
    // The first Ctrl-C stops the workers and still writes the report; a second one leaves at once.
    if (abort.signal.aborted) process.exit(130);
    progress.log('swarm: stopping (Ctrl-C again to quit without a report)');
    abort.abort();
  });

  if (command.kind === 'sweep') {
    const result = await runSweep(command.options, { progress, signal: abort.signal });
    for (const row of result.rows) progress.log(describeRow(row));
    progress.log(`sweep: ${result.out}/sweep.md, sweep.html`);
    if (abort.signal.aborted) return 130;
    return result.rows.every((r) => r.summary.stopReason === 'target' || r.summary.stopReason === 'steps') ? 0 : 1;
  }

  let result: Awaited<ReturnType<typeof runSwarm>>;
  try {
    result = await runSwarm(command.options, { progress, signal: abort.signal });
  } catch (err) {
    // What fails before any worker starts (a task module that exports no task) is said in one line.
    console.error(`swarm: ${errorMessage(err)}`);
    return 2;
  }
  const { out, summary } = result;
  const s = summary;
  if (s.target !== null) {
    progress.log(s.reachedTarget
      ? `swarm: reached ${s.target} test accuracy at step ${s.stepsToTarget} after ${s.secondsToTarget?.toFixed(1)} s and ${formatBytes(s.bytesToTarget ?? 0)} sent per worker`
      : `swarm: did not reach ${s.target} test accuracy (best ${s.bestAccuracy?.toFixed(3) ?? '-'})`);
  }
  progress.log(`swarm: ${s.stopReason}${s.error ? `: ${s.error}` : ''}; ${s.steps} steps in ${s.trainingSeconds.toFixed(1)} s, ${s.stepsPerSecond?.toFixed(2) ?? '-'} steps/s; report ${out}/report.html`);
  if (abort.signal.aborted) return 130;
  return s.stopReason === 'target' || s.stopReason === 'steps' ? 0 : 1;
}

process.exitCode = await main();
