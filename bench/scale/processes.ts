/**
 * Memory of the Chromium processes this process launched, from /proc: the browser is a child of
 * this process, so its renderers (one per tab here), the GPU process (SwiftShader's WebGL) and the
 * rest are its descendants. Other people's browsers on the same machine are not counted.
 */
import { readdirSync, readFileSync } from 'node:fs';

export type ChromiumRole = 'renderer' | 'gpu' | 'browser' | 'other';

export interface ProcessMemory {
  pid: number;
  role: ChromiumRole;
  /** Resident set (VmRSS), bytes. */
  rss: number;
  /** Proportional set (shared pages split among their users), bytes; 0 where not readable. */
  pss: number;
  /**
   * Unique set: pages only this process maps (smaps Private_Clean + Private_Dirty), bytes; 0 where
   * not readable. What closing the tab would give back; RSS also counts the Chromium binary's code,
   * which every renderer maps and a tab on WebGL and WebRTC touches ~130 MiB of.
   */
  uss: number;
}

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null; // the process ended meanwhile
  }
}

/** The processes below `root` (not `root` itself). */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = read(`/proc/${entry}/stat`);
    if (!stat) continue;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const out: number[] = [];
  const queue = [...(children.get(root) ?? [])];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

function roleOf(cmdline: string): ChromiumRole | null {
  if (!/chrom/i.test(cmdline)) return null;
  if (cmdline.includes('--type=renderer')) return 'renderer';
  if (cmdline.includes('--type=gpu-process')) return 'gpu';
  if (!cmdline.includes('--type=')) return 'browser';
  return 'other';
}

/** Every Chromium process below this one, with its memory now. */
export function chromiumMemory(root = process.pid): ProcessMemory[] {
  const out: ProcessMemory[] = [];
  for (const pid of descendants(root)) {
    const cmdline = read(`/proc/${pid}/cmdline`)?.replaceAll('\0', ' ');
    const role = cmdline ? roleOf(cmdline) : null;
    if (!role) continue;
    const rss = /VmRSS:\s+(\d+) kB/.exec(read(`/proc/${pid}/status`) ?? '')?.[1];
    if (rss === undefined) continue;
    const rollup = read(`/proc/${pid}/smaps_rollup`) ?? '';
    const kB = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? 0) * 1024;
    out.push({ pid, role, rss: Number(rss) * 1024, pss: kB('Pss'), uss: kB('Private_Clean') + kB('Private_Dirty') });
  }
  return out;
}

/** The largest value seen per pid over several samples (a peak, not a moment). */
export class PeakMemory {
  private readonly peaks = new Map<number, ProcessMemory>();

  sample(root = process.pid): void {
    for (const p of chromiumMemory(root)) {
      const seen = this.peaks.get(p.pid);
      this.peaks.set(p.pid, seen ? { ...p, rss: Math.max(seen.rss, p.rss), pss: Math.max(seen.pss, p.pss), uss: Math.max(seen.uss, p.uss) } : p);
    }
  }

  of(role: ChromiumRole): ProcessMemory[] {
    return [...this.peaks.values()].filter((p) => p.role === role).sort((a, b) => b.rss - a.rss);
  }
}
