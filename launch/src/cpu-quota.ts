/**
 * A slow device on this machine: a browser's processes capped at 1/RATE of one core by a Linux
 * cgroup (the cpu controller's CFS quota). Chromium's own throttling (CDP
 * `Emulation.setCPUThrottlingRate`) is not that: it "suspends" the renderer's main thread by a
 * signal whose handler spins until resumed, so a throttled tab, even an idle one, keeps a whole
 * core busy, and on a small machine the other tabs lose that core. A capped browser runs RATE
 * times slower than one core and takes nothing from the others, as a slow device elsewhere would.
 *
 * Needs root and the cpu controller: cgroup v1 (`/sys/fs/cgroup/cpu`) or v2 (`/sys/fs/cgroup`).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** A CFS quota below this is refused by the kernel (1 ms); the period grows for high rates instead. */
const MIN_QUOTA_US = 1_000;
/** Short enough that a capped process runs in slices of a few ms, not in bursts of 100 ms. */
const PERIOD_US = 20_000;

interface CgroupLayout {
  dir: (name: string) => string;
  limit: (dir: string, quotaUs: number, periodUs: number) => void;
}

function layout(): CgroupLayout {
  if (existsSync('/sys/fs/cgroup/cpu/cpu.cfs_quota_us')) {
    return {
      dir: (name) => join('/sys/fs/cgroup/cpu', name),
      limit: (dir, quotaUs, periodUs) => {
        writeFileSync(join(dir, 'cpu.cfs_period_us'), String(periodUs));
        writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(quotaUs));
      },
    };
  }
  const controllers = existsSync('/sys/fs/cgroup/cgroup.controllers') ? readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8') : '';
  if (controllers.split(/\s+/).includes('cpu')) {
    return {
      dir: (name) => join('/sys/fs/cgroup', name),
      limit: (dir, quotaUs, periodUs) => writeFileSync(join(dir, 'cpu.max'), `${quotaUs} ${periodUs}`),
    };
  }
  throw new Error('capping a tab\'s CPU needs the cgroup cpu controller (Linux, as root): neither /sys/fs/cgroup/cpu nor a cgroup v2 "cpu" controller is there');
}

/** The parent of process `pid`, or -1 if it is gone. */
export function parentOf(pid: number): number {
  try {
    // The 2nd field after the command, which is in parentheses and may hold spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return -1;
  }
}

/** Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux's common architectures). */
const USER_HZ = 100;

/** CPU seconds (user and system) `pids` have used so far; a process gone meanwhile counts 0. */
export function cpuSecondsOf(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      // utime and stime: the 14th and 15th fields, the 12th and 13th after the command.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone
    }
  }
  return ticks / USER_HZ;
}

/** The pids of `root` and all its descendants, from /proc. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const ppid = parentOf(Number(entry));
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const tree: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** Chromium browser processes (those without a `--type=` switch) running now; Debian's launcher script execs the binary. */
export function browserProcesses(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (basename(args[0] ?? '') === 'chromium' && !args.some((a) => a.startsWith('--type='))) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

export interface CpuCap {
  /** Its cgroup's directory. */
  readonly dir: string;
  /** Moves `pids` (whole processes, all their threads) under the cap. */
  add(pids: readonly number[]): void;
  /** Removes the cgroup once its processes have exited (waits up to 5 s for them). */
  remove(): Promise<void>;
}

/** Cgroups made here are named `tabswarm-cap-PID-N`, PID the process that made them. */
const CAP_NAME = /^tabswarm-cap-(\d+)-\d+$/;
let capsMade = 0;

/**
 * A new cgroup capped at 1/`rate` of one core. A process killed before it removed its cgroups
 * leaves them behind; the next cap removes those.
 */
export function cpuCap(rate: number): CpuCap {
  if (!(rate >= 1)) throw new RangeError(`a CPU cap needs a rate of at least 1, got ${rate}`);
  const { dir: dirOf, limit } = layout();
  const dir = dirOf(`tabswarm-cap-${process.pid}-${capsMade++}`);
  removeOrphans(dirname(dir));
  mkdirSync(dir, { recursive: true });
  const periodUs = Math.max(PERIOD_US, Math.ceil(MIN_QUOTA_US * rate));
  limit(dir, Math.round(periodUs / rate), periodUs);
  return {
    dir,
    add(pids) {
      for (const pid of pids) {
        try {
          writeFileSync(join(dir, 'cgroup.procs'), String(pid));
        } catch {
          // exited meanwhile
        }
      }
    },
    async remove() {
      for (let tries = 0; tries < 50; tries++) {
        try {
          rmdirSync(dir);
          return;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
          await new Promise((r) => setTimeout(r, 100)); // EBUSY: a process has not exited yet
        }
      }
    },
  };
}

/** Empty cgroups in `parent` made by a process now gone (rmdir refuses one that still holds a process). */
function removeOrphans(parent: string): void {
  for (const entry of readdirSync(parent)) {
    const maker = CAP_NAME.exec(entry)?.[1];
    if (maker === undefined || existsSync(`/proc/${maker}`)) continue;
    try {
      rmdirSync(join(parent, entry));
    } catch {
      // still holds a process (a browser that outlived its maker), or gone meanwhile
    }
  }
}
