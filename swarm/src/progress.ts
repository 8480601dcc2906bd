/**
 * The live progress line. On a terminal it redraws one line in place; otherwise (CI, a pipe) it
 * writes a fresh line every few seconds, so logs stay readable.
 */
export interface ProgressState {
  /** Steps every worker has finished. */
  step: number;
  steps: number;
  accuracy: number | null;
  target: number | null;
  training: number;
  workers: number;
  stepsPerSecond: number | null;
  /** Mean bytes sent per worker so far. */
  bytesSent: number;
  elapsedMs: number;
  note?: string;
}

const BAR_WIDTH = 24;
/** Without a terminal, one line this often. */
const PLAIN_INTERVAL_MS = 5000;

export function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${Math.round(bytes)} B`;
}

export function formatSeconds(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export function progressLine(p: ProgressState, width = BAR_WIDTH): string {
  const fraction = p.steps > 0 ? Math.min(1, p.step / p.steps) : 0;
  const filled = Math.round(fraction * width);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
  const acc = p.accuracy === null ? 'acc -' : `acc ${p.accuracy.toFixed(3)}${p.target !== null ? `/${p.target}` : ''}`;
  const rate = p.stepsPerSecond === null ? '- steps/s' : `${p.stepsPerSecond.toFixed(2)} steps/s`;
  const parts = [bar, `step ${p.step}/${p.steps}`, acc, `${p.training}/${p.workers} training`, rate, `${formatBytes(p.bytesSent)}/worker`, formatSeconds(p.elapsedMs)];
  if (p.note) parts.push(p.note);
  return parts.join('  ');
}

export class Progress {
  private lastPlain = -Infinity;
  private drawn = false;

  constructor(private readonly out: NodeJS.WriteStream = process.stdout) {}

  update(p: ProgressState): void {
    if (this.out.isTTY) {
      const line = progressLine(p).slice(0, Math.max(20, (this.out.columns || 120) - 1));
      this.out.write(`\r\x1b[2K${line}`);
      this.drawn = true;
    } else if (p.elapsedMs - this.lastPlain >= PLAIN_INTERVAL_MS || p.elapsedMs < this.lastPlain) {
      // (A sweep's next run starts its clock again: without the second test it printed nothing
      // until it had run as long as the run before.)
      this.lastPlain = p.elapsedMs;
      this.out.write(`${progressLine(p)}\n`);
    }
  }

  /** Ends the live line so what follows starts on a fresh one. */
  done(p: ProgressState): void {
    if (this.out.isTTY) {
      if (this.drawn) this.out.write(`\r\x1b[2K`);
      this.out.write(`${progressLine(p)}\n`);
    } else {
      this.out.write(`${progressLine(p)}\n`);
    }
  }

  log(line: string): void {
    if (this.out.isTTY && this.drawn) {
      this.out.write(`\r\x1b[2K`);
      this.drawn = false;
    }
    this.out.write(`${line}\n`);
  }
}
