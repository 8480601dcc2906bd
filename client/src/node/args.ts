/**
 * Command line of a Node worker: `--signal URL --room NAME [--KEY VALUE]...`. Every other
 * `--KEY VALUE` pair is what a tab reads from its URL parameters: the run configuration (used if
 * this worker creates the room) and link keys such as `bandwidth` or `latency`.
 */
import { ConfigError, parseRunConfig, pickConfigParams } from '@tabswarm/shared/protocol';
import { WRTC_IMPLEMENTATIONS, type WrtcName } from './wrtc.ts';

export interface NodeWorkerArgs {
  /** @default http://127.0.0.1:8080 */
  signal: string;
  /** @default default */
  room: string;
  /**
   * tfjs backend: `cpu` (pure JS) or `wasm` (the same npm package family, ~4x faster here on the
   * MLP; no native binary either). @default cpu
   */
  backend: NodeBackend;
  /** WebRTC implementation. @default node-datachannel */
  wrtc: WrtcName;
  /** A module exporting the task to train (task-module.ts); absent: the built-in task the room's `model` names. */
  task?: string;
  /**
   * CSV files of this worker's own to train on instead of a shard of the task's data (a tab's
   * `data=local`): the label, then the example's values, one example a line, a header allowed.
   */
  localData?: string[];
  /** Every other `--KEY VALUE`, as a tab's URL parameters. */
  params: Record<string, string>;
}

export const NODE_BACKENDS = ['cpu', 'wasm'] as const;
export type NodeBackend = (typeof NODE_BACKENDS)[number];

export const NODE_WORKER_USAGE = `usage: tsx client/src/node/node-worker.ts [--signal http://127.0.0.1:8080] [--room default] [--backend cpu|wasm] [--task FILE] [--KEY VALUE]...
  --signal URL   signaling server
  --room NAME    room to join
  --backend B    tfjs backend: cpu (default) or wasm
  --wrtc W       WebRTC for Node: node-datachannel (default) or roamhq (@roamhq/wrtc)
  --task FILE    train the task a module exports (export const task), not the built-in one
                 the room's model key names; the room's key task becomes its name
  --local-data FILE[,FILE...]
                 train on CSV files of this worker's own (label, then the example's values, one
                 example a line) instead of a shard of the task's data; they never leave it
  --ticket T     a closed room's join ticket (the invite URL's ticket)
  --KEY VALUE    as the URL parameters of a tab: run configuration keys (used if this worker
                 creates the room, e.g. --workers 4 --compressor powersgd --rank 2) and link keys
                 (e.g. --bandwidth 10mbit --latency 40ms)`;

/** Accepts `--key value` and `--key=value`; throws ConfigError on anything else or a bad config value. */
export function parseNodeWorkerArgs(argv: readonly string[]): NodeWorkerArgs | 'help' {
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return 'help';
    if (!arg.startsWith('--') || arg.length < 3) throw new ConfigError(`expected --KEY VALUE, got ${JSON.stringify(arg)}`);
    const eq = arg.indexOf('=');
    if (eq > 0) {
      flags[arg.slice(2, eq)] = arg.slice(eq + 1);
      continue;
    }
    const value = argv[i + 1];
    if (value === undefined || value.startsWith('--')) throw new ConfigError(`${arg} needs a value`);
    flags[arg.slice(2)] = value;
    i++;
  }
  const { signal = 'http://127.0.0.1:8080', room = 'default', backend = 'cpu', wrtc = 'node-datachannel', task, 'local-data': localData, ...params } = flags;
  const files = localData?.split(',').filter((f) => f !== '');
  if (files?.length === 0) throw new ConfigError('--local-data needs at least one CSV file');
  if (!(WRTC_IMPLEMENTATIONS as readonly string[]).includes(wrtc)) throw new ConfigError(`wrtc must be one of ${WRTC_IMPLEMENTATIONS.join('|')}, got ${JSON.stringify(wrtc)}`);
  if (!(NODE_BACKENDS as readonly string[]).includes(backend)) throw new ConfigError(`backend must be one of ${NODE_BACKENDS.join('|')}, got ${JSON.stringify(backend)}`);
  // Fail here, with the flag's name, rather than as a rejected join.
  parseRunConfig(pickConfigParams(params));
  return { signal, room, backend: backend as NodeBackend, wrtc: wrtc as WrtcName, params, ...(task !== undefined ? { task } : {}), ...(files ? { localData: files } : {}) };
}
