/**
 * The run configuration belongs to the room: the first tab's URL parameters (or the server's
 * defaults) fix it, and every later tab adopts it. URL parameters, the server's options and the
 * CLI share these names; they are a stable interface (extend, never rename).
 */
import { z } from 'zod';
import { ALL_REDUCE_ALGORITHMS, type AllReduceAlgorithm } from '../collective/ring-collective.ts';
import { ConfigError } from '../errors.ts';
import { quote } from '../quote.ts';

export const MODELS = ['mlp', 'cnn'] as const;
export const DATASETS = ['mnist'] as const;
export const OPTIMIZERS = ['sgd', 'adam'] as const;
export const COMPRESSORS = [
  'none', 'fp16', 'randomk', 'topk', 'qsgd', 'sketch-gaussian', 'sketch-haar', 'powersgd', 'greedylore',
] as const;
export const ERROR_CONTROLS = ['none', 'ef14', 'ef21', 'diana'] as const;
export const SHARDINGS = ['iid', 'label-skew', 'dirichlet'] as const;
/** Round modes (train/rounds/): one synchronous step per round, time-boxed accumulation, local steps. */
export const SYNC_MODES = ['step', 'accumulate', 'local'] as const;

export type ModelName = (typeof MODELS)[number];
export type DatasetName = (typeof DATASETS)[number];
export type OptimizerName = (typeof OPTIMIZERS)[number];
export type CompressorName = (typeof COMPRESSORS)[number];
export type ErrorControlName = (typeof ERROR_CONTROLS)[number];
export type ShardingName = (typeof SHARDINGS)[number];
export type SyncMode = (typeof SYNC_MODES)[number];
/** A task's name as the room key `task` carries it: lower case, digits, `.`, `_`, `-`; empty for the built-in tasks. */
export const TASK_NAME = /^(?:[a-z0-9][a-z0-9._-]{0,63})?$/;

export interface RunConfig {
  /** The built-in task's model (MNIST with the MLP or the CNN), when `task` is empty. */
  model: ModelName;
  /**
   * The task every member trains when it is not a built-in one: its name (`spirals`, `char-lstm`,
   * a task module's `name`; task/task.ts). Empty: the built-in task `model` names. A member whose
   * task is another refuses the room before training (a different model could never be averaged).
   */
  task: string;
  dataset: DatasetName;
  optimizer: OptimizerName;
  /** Learning rate. */
  lr: number;
  /** Momentum of SGD (ignored by Adam). */
  momentum: number;
  /** Examples per worker per step. */
  batchSize: number;
  /** Training stops after this many synchronous steps. */
  steps: number;
  /** Run seed: initial weights, shard permutation, shared codec randomness. */
  seed: number;
  /** Members the room waits for before the first step. */
  workers: number;
  /** Test accuracy is measured every this many steps. */
  evalEvery: number;
  /** Size of the held-out test subset used for accuracy. */
  evalSize: number;
  compressor: CompressorName;
  /** Rank of low-rank compressors and sketches. */
  rank: number;
  /** Fraction of entries kept by sparsifiers (randomk, topk). */
  ratio: number;
  /** Quantization levels of QSGD. */
  levels: number;
  /** GreedyLore's subspace refresh period tau. */
  period: number;
  ef: ErrorControlName;
  staleness: 0 | 1;
  /** How the training set is split among workers. */
  shard: ShardingName;
  /** Classes per worker with `shard=label-skew`. */
  classes: number;
  /** Concentration of `shard=dirichlet` (small = more skewed). */
  alpha: number;
  /** Members compare weight hashes every this many steps (0 = never). */
  checkEvery: number;
  /** Std of the shared-seed Gaussian noise added to every update (0 = off). */
  perturb: number;
  /** PowerSGD's all-reduce rounds per step: 2 (the paper's) or 1 (alternating P and Q). */
  powersgdRounds: 1 | 2;
  /** Each member clips its own gradient to this global L2 norm before compressing (0 = off; train/clip.ts). */
  clip: number;
  /**
   * What one step is: `step`, one batch per member; `accumulate`, a round of as many micro-batches
   * as fit in `roundMs`; `local`, a round of `inner` local steps and one outer step (DiLoCo).
   * `steps`, `evalEvery` and `checkEvery` count rounds in the round modes.
   */
  sync: SyncMode;
  /** Compute budget of a round in ms (`accumulate`; with `local` it replaces `inner`); 0 = unset. */
  roundMs: number;
  /** Local steps per round with `sync=local` (H). */
  inner: number;
  /** Outer (Nesterov SGD) learning rate with `sync=local`. */
  outerLr: number;
  /** Outer Nesterov momentum with `sync=local`. */
  outerMomentum: number;
  /**
   * How a step's vectors are summed among three members or more: `ring` (2(N-1) hops) or
   * `two-shot` (straight to each segment's owner and back: two hops, the same bytes; it pays when
   * a hop is slow: latency, or a slow device every ring hop passes through).
   */
  collective: AllReduceAlgorithm;
}

export const DEFAULT_CONFIG: Readonly<RunConfig> = Object.freeze({
  model: 'mlp',
  task: '',
  dataset: 'mnist',
  optimizer: 'adam',
  lr: 0.001,
  momentum: 0.9,
  batchSize: 64,
  steps: 500,
  seed: 42,
  workers: 1,
  evalEvery: 10,
  evalSize: 1000,
  compressor: 'none',
  rank: 4,
  ratio: 0.01,
  levels: 16,
  period: 100,
  ef: 'none',
  staleness: 0,
  shard: 'iid',
  classes: 2,
  alpha: 0.5,
  checkEvery: 10,
  perturb: 0,
  powersgdRounds: 2,
  clip: 0,
  sync: 'step',
  roundMs: 0,
  inner: 20,
  outerLr: 0.7,
  outerMomentum: 0.9,
  collective: 'ring',
});

type Field = { kind: 'enum'; values: readonly string[] } | { kind: 'int' | 'number'; min: number; max: number } | { kind: 'name'; pattern: RegExp };

const FIELDS: { [K in keyof RunConfig]: Field } = {
  model: { kind: 'enum', values: MODELS },
  task: { kind: 'name', pattern: TASK_NAME },
  dataset: { kind: 'enum', values: DATASETS },
  optimizer: { kind: 'enum', values: OPTIMIZERS },
  lr: { kind: 'number', min: 1e-7, max: 10 },
  momentum: { kind: 'number', min: 0, max: 0.999 },
  batchSize: { kind: 'int', min: 1, max: 4096 },
  steps: { kind: 'int', min: 1, max: 10_000_000 },
  seed: { kind: 'int', min: 0, max: 0xffffffff },
  workers: { kind: 'int', min: 1, max: 256 },
  evalEvery: { kind: 'int', min: 1, max: 1_000_000 },
  evalSize: { kind: 'int', min: 1, max: 10_000 },
  compressor: { kind: 'enum', values: COMPRESSORS },
  rank: { kind: 'int', min: 1, max: 1024 },
  ratio: { kind: 'number', min: 1e-6, max: 1 },
  levels: { kind: 'int', min: 1, max: 65_535 },
  period: { kind: 'int', min: 1, max: 1_000_000 },
  ef: { kind: 'enum', values: ERROR_CONTROLS },
  staleness: { kind: 'int', min: 0, max: 1 },
  shard: { kind: 'enum', values: SHARDINGS },
  classes: { kind: 'int', min: 1, max: 1000 },
  alpha: { kind: 'number', min: 1e-3, max: 1000 },
  checkEvery: { kind: 'int', min: 0, max: 1_000_000 },
  perturb: { kind: 'number', min: 0, max: 10 },
  powersgdRounds: { kind: 'int', min: 1, max: 2 },
  clip: { kind: 'number', min: 0, max: 1e6 },
  sync: { kind: 'enum', values: SYNC_MODES },
  roundMs: { kind: 'int', min: 0, max: 600_000 },
  inner: { kind: 'int', min: 1, max: 100_000 },
  outerLr: { kind: 'number', min: 1e-6, max: 10 },
  outerMomentum: { kind: 'number', min: 0, max: 0.999 },
  collective: { kind: 'enum', values: ALL_REDUCE_ALGORITHMS },
};

export const CONFIG_KEYS = Object.keys(FIELDS) as Array<keyof RunConfig>;

/** Numbers arrive as strings from URLs and flags: a non-blank string is read as a number. */
function numeric(raw: unknown): unknown {
  return typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
}

/** One field's schema, generated from its row of FIELDS (a new key is one row there, nothing here). */
function fieldSchema(field: Field): z.ZodType<string | number> {
  if (field.kind === 'enum') return z.enum(field.values as [string, ...string[]]);
  if (field.kind === 'name') return z.string().regex(field.pattern);
  const number = field.kind === 'int' ? z.number().int() : z.number().finite();
  return z.preprocess(numeric, number.min(field.min).max(field.max));
}

/**
 * The schema of a run configuration, from FIELDS: every key optional (a source sets some of them),
 * unknown keys ignored. parseRunConfig turns its first issue into a ConfigError naming the key.
 */
export const RUN_CONFIG_SCHEMA = z.object(
  Object.fromEntries(CONFIG_KEYS.map((key) => [key, fieldSchema(FIELDS[key]).nullish()])) as unknown as Record<keyof RunConfig, z.ZodType<string | number | null | undefined>>,
);

/** What `key` must be, in words, for the error message. */
function expected(key: keyof RunConfig, raw: unknown): string {
  const field = FIELDS[key];
  if (field.kind === 'enum') return `${key} must be one of ${field.values.join('|')}, got ${quote(raw)}`;
  if (field.kind === 'name') return `${key} must be a name of lower-case letters, digits, '.', '_' and '-' (at most 64), got ${quote(raw)}`;
  const value = numeric(raw);
  if (typeof value !== 'number' || !Number.isFinite(value)) return `${key} must be a number, got ${quote(raw)}`;
  if (field.kind === 'int' && !Number.isInteger(value)) return `${key} must be an integer, got ${value}`;
  return `${key} must be in [${field.min}, ${field.max}], got ${value}`;
}

/**
 * Reads the configuration keys present in `source` (URL parameters, CLI flags or a JSON object)
 * over `base`. Unknown keys are ignored (they belong to the tab, e.g. `room`, `backend`).
 * Throws ConfigError naming the first bad key.
 */
export function parseRunConfig(source: Record<string, unknown>, base: Readonly<RunConfig> = DEFAULT_CONFIG): RunConfig {
  const parsed = RUN_CONFIG_SCHEMA.safeParse(source);
  if (!parsed.success) {
    const key = parsed.error.issues[0]?.path[0] as keyof RunConfig;
    throw new ConfigError(expected(key, source[key]));
  }
  const config: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(parsed.data)) if (value !== undefined && value !== null) config[key] = value;
  return config as unknown as RunConfig;
}

/** Validates a complete configuration received from elsewhere (e.g. the signaling server). */
export function validateRunConfig(value: unknown): RunConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError('config must be an object');
  const source = value as Record<string, unknown>;
  for (const key of CONFIG_KEYS) {
    if (source[key] === undefined) throw new ConfigError(`config is missing ${key}`);
  }
  return parseRunConfig(source);
}

/** Only the keys of `source` that are configuration keys, e.g. to tell which a URL set. */
export function pickConfigParams(source: Record<string, unknown>): Partial<Record<keyof RunConfig, unknown>> {
  const picked: Partial<Record<keyof RunConfig, unknown>> = {};
  for (const key of CONFIG_KEYS) if (source[key] !== undefined) picked[key] = source[key];
  return picked;
}
