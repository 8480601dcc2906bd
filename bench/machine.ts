/**
 * What the results file says about the machine, and how much of it other work took while a
 * backend ran: the dev machines are shared, and a figure measured next to someone's test suite is
 * not the same figure.
 */
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

export interface HostInfo {
  node: string;
  platform: string;
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  /** The 1-minute load average when the backend's run started. */
  loadAverage1m: number;
}

export function loadAverage1m(): number {
  return Math.round(os.loadavg()[0]! * 100) / 100;
}

export function hostEnvironment(): HostInfo {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpuModel: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    loadAverage1m: loadAverage1m(),
  };
}

/** Above this many cores used by other processes on average, the results carry a warning. */
const BUSY_CORES = 0.2;

interface CpuSample {
  /** Busy and total clock ticks of the whole machine since boot (/proc/stat). */
  busy: number;
  total: number;
  /** Ticks used by this process and its descendants alive now (Chromium's processes, when launched). */
  own: number;
}

function sample(): CpuSample {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user)
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait, own: treeTicks(process.pid) };
}

/** utime + stime of `root` and its live descendants. */
function treeTicks(root: number): number {
  const children = new Map<number, number[]>();
  const ticks = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // Fields after "pid (comm)": state ppid ... utime (12th) stime (13th); comm may hold spaces.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pid = Number(entry);
    const ppid = Number(rest[1]);
    ticks.set(pid, Number(rest[11]) + Number(rest[12]));
    children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  let sum = 0;
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    sum += ticks.get(pid) ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return sum;
}

/**
 * Measures, between `start` and `othersCores()`, the cores' worth of CPU that processes other than
 * this one and its children used. Call `othersCores` while the children (Chromium) still run: the
 * ticks of exited processes are lost. Linux only; null elsewhere.
 */
export class CpuMeter {
  private constructor(
    private readonly first: CpuSample | null,
    private readonly cores: number,
  ) {}

  static start(): CpuMeter {
    let first: CpuSample | null = null;
    try {
      first = sample();
    } catch {
      first = null;
    }
    return new CpuMeter(first, os.cpus().length);
  }

  othersCores(): number | null {
    if (this.first === null) return null;
    const last = sample();
    const total = last.total - this.first.total;
    if (total <= 0) return null;
    const others = last.busy - this.first.busy - (last.own - this.first.own);
    return Math.round(Math.max(0, (others / total) * this.cores) * 100) / 100;
  }
}

/**
 * A warning for the results when other work competed for the cores: absolute times are then
 * inflated and noisier; the per-round ratios to `none` hold up better.
 */
export function busyMachineWarning(othersCores: number | null, cores: number): string | null {
  if (othersCores === null || othersCores <= BUSY_CORES) return null;
  return `the machine was shared: other processes used ${othersCores} of its ${cores} cores on average during this backend's run; absolute times are inflated, compare with the per-round "vs none" ratios`;
}
