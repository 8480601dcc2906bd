/**
 * The swarm CLI's options. Run configuration keys and link keys keep the names of a tab's URL
 * parameters (`--compressor powersgd --rank 2 --bandwidth 10mbit`); the CLI's own options are
 * kebab-case (`--target-accuracy`). A sweep takes comma-separated lists for any configuration or
 * link key and runs every combination.
 */
import { ConfigError, CONFIG_KEYS, parseRunConfig, type RunConfig, LINK_KEYS, parseLinkSettings } from '@tabswarm/shared/protocol';
import { resolve } from 'node:path';
import type { SlowBy } from '@tabswarm/launch';
import { RUNTIMES, type Link, type LinkKey, type Runtime } from './metrics.ts';

export const TAB_BACKENDS = ['webgl', 'wasm', 'cpu'] as const;
/** How `--slow-tab` slows the last tab (launch's tabs.ts). */
export const SLOW_BY: readonly SlowBy[] = ['throttle', 'quota'];
export const NODE_BACKENDS = ['cpu', 'wasm'] as const;
export const NODE_WRTCS = ['node-datachannel', 'roamhq'] as const;

export interface RunOptions {
  /** Workers to launch; also the room's `workers` (members to wait for before the first step). */
  workers: number;
  runtime: Runtime;
  /** With `runtime: 'mixed'`: how many of the workers are Chromium tabs. */
  tabs: number;
  /** Chromium processes the tabs are spread over. */
  browsers: number;
  /** The tabs' tfjs backend. */
  backend: (typeof TAB_BACKENDS)[number];
  /** The Node workers' tfjs backend. */
  nodeBackend: (typeof NODE_BACKENDS)[number];
  /** The Node workers' WebRTC implementation. */
  nodeWrtc: (typeof NODE_WRTCS)[number];
  /** Absolute path of a module exporting the task the Node workers train; null: the built-in task the `model` key names. */
  task: string | null;
  /** Stop at the first step whose test accuracy is at least this. */
  target: number | null;
  /** Wall-time limit of the whole run, start-up included. */
  timeoutMs: number;
  /** How many times slower the last tab runs (a slow device); 1 = none. */
  slowTab: number;
  /** How it is slowed: Chromium's CPU throttling, or a CPU quota on a browser of its own. */
  slowBy: SlowBy;
  /**
   * Open one more page under Chromium's CPU throttling at this rate, beside the room, that never
   * joins it: what the throttling alone costs the machine; 1 = none.
   */
  bystander: number;
  out: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  room: string | null;
  /** Run configuration keys given on the command line (validated), as the URL would carry them. */
  config: Partial<Record<keyof RunConfig, string>>;
  link: Link;
  /** The command line, for the report. */
  command: string;
}

export interface SweepAxis {
  key: keyof RunConfig | LinkKey;
  values: string[];
}

export interface SweepOptions {
  base: RunOptions;
  /** Every combination of these values is one run, the first axis varying slowest. */
  axes: SweepAxis[];
}

export type Command =
  | { kind: 'run'; options: RunOptions }
  | { kind: 'sweep'; options: SweepOptions }
  | { kind: 'report'; dir: string }
  | { kind: 'help' };

export const USAGE = `usage: npm run swarm -- [--workers 4] [--runtime node|chromium|mixed] [--steps 300]
                      [--target-accuracy 0.95] [--timeout 30m] [--out DIR] [--KEY VALUE]...
       npm run swarm -- sweep --compressors none,powersgd --bandwidths 10mbit,100mbit [--shard iid,dirichlet]
                      [any option above; any KEY may take a comma-separated list] --out DIR
       npm run swarm -- report DIR     (draws a stored run's or sweep's pages again)

Starts a signaling server, launches the workers, shows their progress, stops at the target
accuracy or the step limit, and writes DIR/metrics.json, DIR/summary.json and DIR/report.html.
A sweep runs every combination into DIR/runs/ and writes DIR/sweep.md, sweep.json, sweep.html.

  --workers N            workers to launch and wait for (default 2)
  --runtime R            node (default): Node workers; chromium: headless Chromium tabs;
                         mixed: both (--tabs of them are tabs)
  --tabs N               with --runtime mixed: how many workers are tabs (default half, at least 1)
  --browsers N           Chromium processes to spread the tabs over (default 1)
  --backend B            tfjs backend of the tabs: webgl (default), wasm, cpu
  --node-backend B       tfjs backend of the Node workers: cpu (default), wasm
  --node-wrtc W          WebRTC of the Node workers: node-datachannel (default), roamhq
  --task FILE            train the task FILE exports (export const task; docs/TASKS.md) instead
                         of the built-in MNIST task the model key names; Node workers only
  --target-accuracy X    stop at the first step whose test accuracy is at least X
  --timeout T            wall-time limit: 90, 90s, 15m, 1h (default 30m)
  --slow-tab RATE        run the last tab RATE times slower (e.g. 16): a slow device among fast
                         ones (wasm or cpu backend; default 1, none)
  --slow-by HOW          throttle (default): Chromium's CPU throttling, which spins a core while
                         the tab waits; quota: a browser of its own capped at 1/RATE of a core
                         (cgroup cpu controller, root), taking no CPU from the other tabs
  --bystander RATE       open one more page throttled RATE times beside the room that never joins
                         it: what Chromium's throttling costs the machine by itself (default 1, none)
  --out DIR              report folder (default reports/run-TIMESTAMP)
  --port N, --host H     where the signaling server listens (default a free port on 127.0.0.1)
  --room NAME            room name (default a fresh one)
  --KEY VALUE            run configuration, as in the URL: ${CONFIG_KEYS.join(' ')}
                         link shaping: ${LINK_KEYS.join(' ')} (e.g. --bandwidth 10mbit --latency 40ms)
  sweep aliases          --compressors = --compressor, --bandwidths = --bandwidth`;

const CLI_KEYS = ['task', 'runtime', 'tabs', 'browsers', 'backend', 'node-backend', 'node-wrtc', 'target-accuracy', 'timeout', 'slow-tab', 'slow-by', 'bystander', 'out', 'host', 'port', 'room'] as const;
const SWEEP_ALIASES: Record<string, keyof RunConfig | LinkKey> = { compressors: 'compressor', bandwidths: 'bandwidth' };

/** `90` (seconds), `90s`, `15m`, `1.5h`, `500ms` -> milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new ConfigError(`a duration looks like 90, 90s, 15m or 1h; got ${JSON.stringify(text)}`);
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? 's'] ?? 1000;
  return Number(match[1]) * scale;
}

function readFlags(argv: readonly string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--') || arg.length < 3) throw new ConfigError(`expected --KEY VALUE, got ${JSON.stringify(arg)}`);
    const eq = arg.indexOf('=');
    let key: string;
    let value: string | undefined;
    if (eq > 0) {
      key = arg.slice(2, eq);
      value = arg.slice(eq + 1);
    } else {
      key = arg.slice(2);
      value = argv[i + 1];
      if (value === undefined || (value.startsWith('--') && value.length > 2)) throw new ConfigError(`--${key} needs a value`);
      i++;
    }
    if (flags.has(key)) throw new ConfigError(`--${key} is given twice`);
    flags.set(key, value);
  }
  return flags;
}

function positiveInt(name: string, text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1) throw new ConfigError(`--${name} must be a positive integer, got ${JSON.stringify(text)}`);
  return value;
}

function oneOf<T extends string>(name: string, text: string, values: readonly T[]): T {
  if (!(values as readonly string[]).includes(text)) throw new ConfigError(`--${name} must be one of ${values.join('|')}, got ${JSON.stringify(text)}`);
  return text as T;
}

function isConfigKey(key: string): key is keyof RunConfig {
  return (CONFIG_KEYS as readonly string[]).includes(key);
}

function isLinkKey(key: string): key is LinkKey {
  return (LINK_KEYS as readonly string[]).includes(key);
}

/** Builds run options from single values (a sweep calls it once per combination). */
export function runOptionsFrom(flags: ReadonlyMap<string, string>, command: string, now = new Date()): RunOptions {
  for (const key of flags.keys()) {
    if (!isConfigKey(key) && !isLinkKey(key) && !(CLI_KEYS as readonly string[]).includes(key)) {
      throw new ConfigError(`unknown option --${key}`);
    }
  }
  const get = (key: string): string | undefined => flags.get(key);
  const workers = positiveInt('workers', get('workers') ?? '2');
  const runtime = oneOf('runtime', get('runtime') ?? 'node', RUNTIMES);
  const config: Partial<Record<keyof RunConfig, string>> = { workers: String(workers) };
  for (const key of CONFIG_KEYS) {
    const value = get(key);
    // --task is the module's file: the workers put its task's name in the room's `task` key.
    if (value !== undefined && key !== 'workers' && key !== 'task') config[key] = value;
  }
  parseRunConfig(config); // throws ConfigError naming the bad key
  const link: Link = {};
  for (const key of LINK_KEYS) {
    const value = get(key);
    if (value !== undefined) link[key] = value;
  }
  parseLinkSettings(link); // throws ConfigError naming the bad key
  const targetText = get('target-accuracy');
  const target = targetText === undefined ? null : Number(targetText);
  if (target !== null && !(target > 0 && target <= 1)) throw new ConfigError(`--target-accuracy must be in (0, 1], got ${JSON.stringify(targetText)}`);
  const tabs = runtime === 'chromium' ? workers : runtime === 'node' ? 0 : positiveInt('tabs', get('tabs') ?? String(Math.max(1, Math.floor(workers / 2))));
  if (tabs > workers) throw new ConfigError(`--tabs (${tabs}) cannot exceed --workers (${workers})`);
  const slowTab = Number(get('slow-tab') ?? '1');
  if (!(slowTab >= 1 && slowTab <= 100)) throw new ConfigError(`--slow-tab must be a throttling rate in [1, 100], got ${JSON.stringify(get('slow-tab'))}`);
  if (slowTab > 1 && tabs === 0) throw new ConfigError('--slow-tab needs tabs (--runtime chromium or mixed)');
  const slowBy = oneOf('slow-by', get('slow-by') ?? 'throttle', SLOW_BY);
  const bystander = Number(get('bystander') ?? '1');
  if (!(bystander >= 1 && bystander <= 100)) throw new ConfigError(`--bystander must be a throttling rate in [1, 100], got ${JSON.stringify(get('bystander'))}`);
  const taskPath = get('task');
  // The tabs load the built page, which holds the built-in tasks only.
  if (taskPath !== undefined && tabs > 0) throw new ConfigError('--task runs in Node workers only (--runtime node): tabs train the built-in tasks of the built page');
  const portText = get('port') ?? '0';
  if (!/^\d+$/.test(portText) || Number(portText) > 65_535) throw new ConfigError(`--port must be an integer in [0, 65535], got ${JSON.stringify(portText)}`);
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return {
    workers,
    runtime,
    tabs,
    browsers: positiveInt('browsers', get('browsers') ?? '1'),
    backend: oneOf('backend', get('backend') ?? 'webgl', TAB_BACKENDS),
    nodeBackend: oneOf('node-backend', get('node-backend') ?? 'cpu', NODE_BACKENDS),
    nodeWrtc: oneOf('node-wrtc', get('node-wrtc') ?? 'node-datachannel', NODE_WRTCS),
    task: taskPath === undefined ? null : resolve(taskPath),
    target,
    timeoutMs: parseDuration(get('timeout') ?? '30m'),
    slowTab,
    slowBy,
    bystander,
    out: get('out') ?? `reports/run-${stamp}`,
    host: get('host') ?? '127.0.0.1',
    port: Number(portText),
    room: get('room') ?? null,
    config,
    link,
    command,
  };
}

export function parseCommand(argv: readonly string[]): Command {
  if (argv.includes('--help') || argv.includes('-h') || argv[0] === 'help') return { kind: 'help' };
  const command = `npm run swarm -- ${argv.join(' ')}`.trim();
  if (argv[0] === 'report') {
    if (argv.length !== 2) throw new ConfigError('usage: npm run swarm -- report DIR');
    return { kind: 'report', dir: argv[1]! };
  }
  if (argv[0] !== 'sweep') return { kind: 'run', options: runOptionsFrom(readFlags(argv), command) };

  const flags = readFlags(argv.slice(1));
  const single = new Map<string, string>();
  const axes: SweepAxis[] = [];
  for (const [name, value] of flags) {
    const key = SWEEP_ALIASES[name] ?? name;
    const values = value.split(',').map((v) => v.trim()).filter((v) => v !== '');
    if ((isConfigKey(key) || isLinkKey(key)) && values.length > 1) {
      if (key === 'workers') throw new ConfigError('--workers cannot be swept: run one sweep per worker count');
      axes.push({ key, values });
    } else {
      if (single.has(key)) throw new ConfigError(`--${key} is given twice`);
      single.set(key, values.length === 1 ? values[0]! : value);
    }
  }
  if (!single.has('out')) throw new ConfigError('a sweep needs --out DIR');
  const base = runOptionsFrom(single, command);
  // Every value of every axis must be valid before the first run starts.
  for (const axis of axes) for (const value of axis.values) runOptionsFrom(new Map([...single, [axis.key, value]]), command);
  return { kind: 'sweep', options: { base, axes } };
}

/** The options of one combination of a sweep. */
export function withSetting(base: RunOptions, key: keyof RunConfig | LinkKey, value: string): RunOptions {
  if (isLinkKey(key)) return { ...base, link: { ...base.link, [key]: value } };
  return { ...base, config: { ...base.config, [key]: value } };
}
