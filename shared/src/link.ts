/**
 * Link settings: how slow, far or lossy this tab's (or Node worker's) network should look.
 * They belong to one worker, not to the room: every tab of a room may have its own link.
 * URL parameters and CLI flags share the names: `bandwidth=10mbit&latency=40ms&jitter=5ms&loss=0.01`.
 *
 * Units are decimal, as network people count: 1 mbit = 1,000,000 bits. A plain number is bit/s
 * for `bandwidth` and milliseconds for `latency` and `jitter`; `loss` is a fraction in [0, 1).
 */
import { ConfigError } from './errors.ts';

export const LINK_KEYS = ['bandwidth', 'latency', 'jitter', 'loss'] as const;

export interface LinkSettings {
  /** Bits per second this worker may send on each link; null means not limited. */
  bandwidthBitsPerSec: number | null;
  /** Delay this worker adds to every round trip (in-transport: to every frame it receives). */
  latencyMs: number;
  /** Extra uniform random delay in [0, jitterMs] per frame (order is kept). */
  jitterMs: number;
  /** Probability that one packet (~1,200 bytes) is lost; the channel is reliable, so it is sent again. */
  loss: number;
}

export const UNSHAPED: Readonly<LinkSettings> = Object.freeze({ bandwidthBitsPerSec: null, latencyMs: 0, jitterMs: 0, loss: 0 });

const BANDWIDTH_UNITS: Record<string, number> = { '': 1, bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 };
const TIME_UNITS: Record<string, number> = { '': 1, ms: 1, s: 1000 };
/** Longer delays than this are a typo, not a network. */
const MAX_DELAY_MS = 60_000;

/** A number with an optional unit suffix, e.g. `10mbit`, `2.5 s`. */
function parseQuantity(key: string, raw: unknown, units: Record<string, number>): number {
  if (typeof raw === 'number') return raw;
  const match = typeof raw === 'string' ? /^\s*(\d+(?:\.\d*)?|\.\d+)(?:e([+-]?\d+))?\s*([a-z]*)\s*$/i.exec(raw) : null;
  const factor = match ? units[match[3]!.toLowerCase()] : undefined;
  if (!match || factor === undefined) {
    const names = Object.keys(units).filter(Boolean).join('|');
    throw new ConfigError(`${key} must be a number with an optional unit (${names}), got ${JSON.stringify(raw)}`);
  }
  return Number(`${match[1]}e${match[2] ?? '0'}`) * factor;
}

function check(key: string, value: number, ok: boolean, range: string): number {
  if (!Number.isFinite(value) || !ok) throw new ConfigError(`${key} must be ${range}, got ${value}`);
  return value;
}

/**
 * Reads the link keys present in `params` (URL parameters, CLI flags or a JSON object); absent
 * keys leave that aspect unshaped. Other keys are ignored. Throws ConfigError naming the bad key.
 */
export function parseLinkSettings(params: Record<string, unknown>): LinkSettings {
  const settings: LinkSettings = { ...UNSHAPED };
  const present = (key: (typeof LINK_KEYS)[number]): boolean => params[key] !== undefined && params[key] !== null && params[key] !== '';
  if (present('bandwidth')) {
    const v = parseQuantity('bandwidth', params.bandwidth, BANDWIDTH_UNITS);
    settings.bandwidthBitsPerSec = check('bandwidth', v, v >= 1, 'at least 1 bit/s');
  }
  if (present('latency')) {
    const v = parseQuantity('latency', params.latency, TIME_UNITS);
    settings.latencyMs = check('latency', v, v >= 0 && v <= MAX_DELAY_MS, `in [0, ${MAX_DELAY_MS}] ms`);
  }
  if (present('jitter')) {
    const v = parseQuantity('jitter', params.jitter, TIME_UNITS);
    settings.jitterMs = check('jitter', v, v >= 0 && v <= MAX_DELAY_MS, `in [0, ${MAX_DELAY_MS}] ms`);
  }
  if (present('loss')) {
    const v = parseQuantity('loss', params.loss, { '': 1 });
    settings.loss = check('loss', v, v >= 0 && v < 1, 'a fraction in [0, 1)');
  }
  return settings;
}

/** True if any aspect of the link is shaped. */
export function isShaped(settings: LinkSettings): boolean {
  return settings.bandwidthBitsPerSec !== null || settings.latencyMs > 0 || settings.jitterMs > 0 || settings.loss > 0;
}

/** For people: `10 Mbit/s, latency 40 ms, jitter 5 ms, loss 1 %`, or `unshaped`. */
export function formatLinkSettings(settings: LinkSettings | null): string {
  if (!settings || !isShaped(settings)) return 'unshaped';
  const parts: string[] = [];
  const bw = settings.bandwidthBitsPerSec;
  if (bw !== null) {
    const [scale, unit] = bw >= 1e9 ? [1e9, 'Gbit/s'] : bw >= 1e6 ? [1e6, 'Mbit/s'] : bw >= 1e3 ? [1e3, 'kbit/s'] : [1, 'bit/s'];
    parts.push(`${trim(bw / scale)} ${unit}`);
  }
  if (settings.latencyMs > 0) parts.push(`latency ${trim(settings.latencyMs)} ms`);
  if (settings.jitterMs > 0) parts.push(`jitter ${trim(settings.jitterMs)} ms`);
  if (settings.loss > 0) parts.push(`loss ${trim(100 * settings.loss)} %`);
  return parts.join(', ');
}

function trim(x: number): string {
  return String(Number(x.toPrecision(4)));
}
