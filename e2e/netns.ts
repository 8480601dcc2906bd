/**
 * Networks of our own on this machine, for tests that need peers who cannot reach each other:
 * a hub network namespace (where the signaling server and the TURN server run, at HUB_ADDRESS)
 * and spoke namespaces, each joined to the hub by a veth pair and nothing else. The hub does not
 * forward (a new namespace's ip_forward is 0, and we set it so), so a spoke reaches the hub's
 * services and never another spoke: host candidates and every direct path between two spokes
 * fail, and each namespace's loopback is its own, so a loopback candidate leads nowhere either
 * (IPv6 is off in them: no link-local candidates). Addresses come from 198.18.0.0/15
 * (benchmarking, never routed) and live only in these namespaces; nothing leaves the machine.
 * Needs root and iproute2's `ip`.
 *
 * Everything a lab creates (namespaces, with their veths; the processes it started; its temp
 * folder) goes in close(), which never throws and may be called more than once.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The hub's service address, on its loopback interface. */
export const HUB_ADDRESS = '198.18.0.1';
/** Every `ip` command gets this long. */
const IP_TIMEOUT_MS = 10_000;
/** A process asked to stop (SIGTERM) gets this long before SIGKILL. */
const STOP_MS = 5_000;

/** Fails with a clear message unless this process may create namespaces. Nothing is skipped. */
export async function requireNetnsSupport(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('this test creates network namespaces and must run as root (CI does); it is not skipped');
  await run('ip', ['-V']).catch((err: unknown) => {
    throw new Error(`this test needs iproute2's ip (scripts/ensure-test-services.sh installs it): ${(err as Error).message}`);
  });
}

function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: IP_TIMEOUT_MS }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

export interface Spoke {
  netns: string;
  /** This spoke's own address (its side of the veth pair). */
  address: string;
}

export class NetnsLab {
  readonly hub: string;
  readonly spokes: Spoke[] = [];
  private readonly created: string[] = [];
  private readonly children = new Set<ChildProcess>();
  /** A temp folder for the lab's files (wrappers, a server's pid and database), removed by close(). */
  readonly dir = mkdtempSync(join(tmpdir(), 'tabswarm-netns-'));
  private closing: Promise<void> | undefined;

  private constructor(private readonly id: string) {
    this.hub = `tsw-${id}-hub`;
  }

  /** A hub and `count` spokes; on failure, whatever was created is removed again. */
  static async create(count: number): Promise<NetnsLab> {
    const lab = new NetnsLab(Math.floor(Math.random() * 0xfffff).toString(16).padStart(5, '0'));
    try {
      await lab.addNamespace(lab.hub);
      await lab.ip(['-n', lab.hub, 'addr', 'add', `${HUB_ADDRESS}/32`, 'dev', 'lo']);
      // Explicit: the hub never routes one spoke's packets to another.
      await lab.exec(lab.hub, ['sh', '-c', 'echo 0 > /proc/sys/net/ipv4/ip_forward']);
      for (let i = 0; i < count; i++) lab.spokes.push(await lab.addSpoke(i));
    } catch (err) {
      await lab.close();
      throw err;
    }
    return lab;
  }

  /** Starts `command` inside `netns`; its output goes to this process's stdout, prefixed with `label`. Stopped by close(). */
  spawn(netns: string, command: string, args: string[], label: string, options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', netns, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    for (const stream of [child.stdout, child.stderr]) {
      stream?.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n')) if (line.trim() !== '') process.stdout.write(`[${label}] ${line}\n`);
      });
    }
    return child;
  }

  /**
   * An executable that starts `binary` inside `netns` with the arguments it is given: a
   * browser's executablePath for Playwright (the DevTools pipe passes through `ip netns exec`).
   */
  wrapper(netns: string, binary: string): string {
    const path = join(this.dir, `${netns}-${binary.split('/').at(-1)}`);
    const quote = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;
    writeFileSync(path, `#!/bin/sh\nexec ip netns exec ${quote(netns)} ${quote(binary)} "$@"\n`);
    chmodSync(path, 0o755);
    return path;
  }

  /** Runs `argv` inside `netns` to its end (within IP_TIMEOUT_MS), returning its stdout. */
  exec(netns: string, argv: string[]): Promise<string> {
    return run('ip', ['netns', 'exec', netns, ...argv]);
  }

  /** Stops the processes started here, deletes the namespaces (their veths go with them) and the temp folder. */
  close(): Promise<void> {
    this.closing ??= this.tearDown();
    return this.closing;
  }

  private async tearDown(): Promise<void> {
    await Promise.all([...this.children].map((child) => stop(child)));
    for (const netns of this.created.reverse()) {
      await this.ip(['netns', 'del', netns]).catch((err: unknown) => console.error(`could not delete namespace ${netns}: ${(err as Error).message}`));
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async addNamespace(netns: string): Promise<void> {
    await this.ip(['netns', 'add', netns]);
    this.created.push(netns);
    // IPv4 only: no link-local IPv6 candidates to reason about.
    await this.exec(netns, ['sh', '-c', 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6']);
    await this.ip(['-n', netns, 'link', 'set', 'lo', 'up']);
  }

  /** Spoke `i`: 198.18.(i+1).2/24, a veth to the hub's 198.18.(i+1).1, its default route through the hub. */
  private async addSpoke(i: number): Promise<Spoke> {
    const netns = `tsw-${this.id}-${i}`;
    await this.addNamespace(netns);
    const [hubSide, spokeSide] = [`tsw${this.id}h${i}`, `tsw${this.id}s${i}`];
    await this.ip(['link', 'add', hubSide, 'netns', this.hub, 'type', 'veth', 'peer', 'name', spokeSide, 'netns', netns]);
    const subnet = `198.18.${i + 1}`;
    await this.ip(['-n', this.hub, 'addr', 'add', `${subnet}.1/24`, 'dev', hubSide]);
    await this.ip(['-n', this.hub, 'link', 'set', hubSide, 'up']);
    await this.ip(['-n', netns, 'addr', 'add', `${subnet}.2/24`, 'dev', spokeSide]);
    await this.ip(['-n', netns, 'link', 'set', spokeSide, 'up']);
    // A default route: Chromium finds its own address by the route to the internet; it leads to the hub only.
    await this.ip(['-n', netns, 'route', 'add', 'default', 'via', `${subnet}.1`]);
    return { netns, address: `${subnet}.2` };
  }

  private ip(args: string[]): Promise<string> {
    return run('ip', args);
  }
}

/** SIGTERM, then SIGKILL after STOP_MS; resolves once the process has exited. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_MS);
  await exited;
  clearTimeout(timer);
}

/** Resolves when `child` prints a line matching `pattern`; rejects if it exits first or after `ms`. */
export function waitForOutput(child: ChildProcess, pattern: RegExp, what: string, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve();
    };
    const onData = (chunk: Buffer): void => {
      if (pattern.test(chunk.toString())) done();
    };
    const onExit = (code: number | null): void => done(new Error(`${what}: the process exited (code ${code}) before it was ready`));
    const timer = setTimeout(() => done(new Error(`${what}: not ready within ${ms} ms`)), ms);
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}
