import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCommand, parseDuration, type RunOptions, type SweepOptions } from './options.ts';

function run(argv: string[]): RunOptions {
  const command = parseCommand(argv);
  assert.equal(command.kind, 'run');
  return (command as { options: RunOptions }).options;
}

test('run options keep the URL parameter names and fill the defaults', () => {
  const o = run(['--workers', '4', '--runtime', 'chromium', '--compressor', 'powersgd', '--rank', '2', '--bandwidth', '10mbit',
    '--latency=40ms', '--steps', '300', '--target-accuracy', '0.95', '--out', 'r', '--timeout', '15m']);
  assert.equal(o.workers, 4);
  assert.equal(o.runtime, 'chromium');
  assert.equal(o.tabs, 4);
  assert.deepEqual(o.config, { workers: '4', compressor: 'powersgd', rank: '2', steps: '300' });
  assert.deepEqual(o.link, { bandwidth: '10mbit', latency: '40ms' });
  assert.equal(o.target, 0.95);
  assert.equal(o.timeoutMs, 15 * 60_000);
  assert.equal(o.out, 'r');
  assert.equal(o.port, 0);
  assert.equal(o.host, '127.0.0.1');
  assert.equal(o.nodeBackend, 'cpu');
  assert.match(o.command, /^npm run swarm -- --workers 4 /);
});

test('mixed runtime splits the workers; node runs no tabs', () => {
  assert.equal(run(['--workers', '5', '--runtime', 'mixed']).tabs, 2);
  assert.equal(run(['--workers', '3', '--runtime', 'mixed', '--tabs', '1']).tabs, 1);
  assert.equal(run(['--workers', '3']).tabs, 0);
  assert.throws(() => run(['--workers', '2', '--runtime', 'mixed', '--tabs', '3']), /cannot exceed/);
});

test('bad options are refused with the name of the option', () => {
  assert.throws(() => run(['--compressor', 'zip']), /compressor must be one of/);
  assert.throws(() => run(['--bandwidth', 'fast']), /bandwidth must be a number/);
  assert.throws(() => run(['--frobnicate', '1']), /unknown option --frobnicate/);
  assert.throws(() => run(['--steps']), /--steps needs a value/);
  assert.throws(() => run(['--target-accuracy', '1.5']), /target-accuracy/);
  assert.throws(() => run(['--runtime', 'firefox']), /runtime must be one of/);
  assert.throws(() => run(['--steps', '10', '--steps', '20']), /given twice/);
  assert.throws(() => run(['steps', '10']), /expected --KEY VALUE/);
});

test('durations', () => {
  assert.equal(parseDuration('90'), 90_000);
  assert.equal(parseDuration('90s'), 90_000);
  assert.equal(parseDuration('1.5h'), 5_400_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.throws(() => parseDuration('soon'), /duration/);
});

test('a sweep takes lists for any configuration or link key, with plural aliases', () => {
  const command = parseCommand(['sweep', '--compressors', 'none,powersgd', '--bandwidths', '10mbit,100mbit', '--shard', 'iid,dirichlet',
    '--rank', '2', '--workers', '4', '--out', 'sw']);
  assert.equal(command.kind, 'sweep');
  const { base, axes } = (command as { options: SweepOptions }).options;
  assert.deepEqual(axes, [
    { key: 'compressor', values: ['none', 'powersgd'] },
    { key: 'bandwidth', values: ['10mbit', '100mbit'] },
    { key: 'shard', values: ['iid', 'dirichlet'] },
  ]);
  assert.equal(base.config.rank, '2');
  assert.equal(base.out, 'sw');
  assert.throws(() => parseCommand(['sweep', '--compressors', 'none,zip', '--out', 'x']), /compressor must be one of/);
  assert.throws(() => parseCommand(['sweep', '--compressors', 'none,fp16']), /needs --out/);
});

test('--slow-tab throttles the last tab, and needs tabs; round keys sweep like the others', () => {
  assert.equal(run(['--workers', '4', '--runtime', 'chromium', '--slow-tab', '16']).slowTab, 16);
  assert.equal(run(['--workers', '2']).slowTab, 1);
  assert.throws(() => run(['--workers', '2', '--slow-tab', '4']), /needs tabs/);
  assert.throws(() => run(['--workers', '2', '--runtime', 'chromium', '--slow-tab', '0.5']), /slow-tab/);
  assert.equal(run(['--workers', '4', '--runtime', 'chromium', '--slow-tab', '16']).slowBy, 'throttle');
  assert.equal(run(['--workers', '4', '--runtime', 'chromium', '--slow-tab', '16', '--slow-by', 'quota']).slowBy, 'quota');
  assert.throws(() => run(['--workers', '4', '--runtime', 'chromium', '--slow-tab', '16', '--slow-by', 'nice']), /slow-by must be one of/);
  assert.equal(run(['--workers', '3', '--runtime', 'chromium', '--bystander', '16']).bystander, 16);
  assert.equal(run(['--workers', '3']).bystander, 1);
  assert.throws(() => run(['--workers', '3', '--bystander', 'x']), /--bystander must be a throttling rate/);
  const sweep = parseCommand(['sweep', '--sync', 'step,local', '--inner', '20,50', '--roundMs', '500', '--out', 'd']);
  assert.equal(sweep.kind, 'sweep');
  assert.deepEqual((sweep as { options: SweepOptions }).options.axes.map((a) => [a.key, a.values]), [['sync', ['step', 'local']], ['inner', ['20', '50']]]);
  assert.throws(() => run(['--sync', 'sometimes']), /sync must be one of/);
});
