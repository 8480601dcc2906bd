/**
 * Test support for several server processes on one Redis (`@tabswarm/signaling-server/cluster-testing`,
 * Node-only): Debian's redis-server on a free port, the server's CLI as a child process that can be
 * killed, and a TCP round-robin proxy that puts the processes behind one address, as a load
 * balancer would. Everything started here is stopped by its `stop()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const START_MS = 30_000;

/** A port free right now, on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

async function until(what: string, ms: number, check: () => Promise<boolean>, child: ChildProcess): Promise<void> {
  for (const started = Date.now(); ; await new Promise((r) => setTimeout(r, 100))) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode})`);
    if (Date.now() - started > ms) throw new Error(`${what} did not start within ${ms} ms`);
    if (await check()) return;
  }
}

async function kill(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await gone;
}

function answers(port: number, send: string, expect: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.setTimeout(1000, () => socket.destroy());
    socket.on('connect', () => socket.write(send));
    socket.on('data', (chunk) => {
      text += chunk.toString();
      if (text.includes(expect)) socket.end();
    });
    socket.on('close', () => resolve(text.includes(expect)));
    socket.on('error', () => resolve(false));
  });
}

/** Debian's redis-server (`apt-get install redis-server`; scripts/ensure-test-services.sh), nothing saved to disk. */
export class RedisServer {
  private child: ChildProcess | undefined;
  /** Set by stop(): a restart still waiting (its test failed meanwhile) starts nothing, or it would outlive the test. */
  private stopped = false;

  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<RedisServer> {
    const redis = new RedisServer(await freePort());
    await redis.run();
    return redis;
  }

  /** Killed and, `downMs` later, started again on the same port, empty (as a Redis that kept nothing on disk). */
  async restart(downMs = 0): Promise<void> {
    await kill(this.child);
    await new Promise((r) => setTimeout(r, downMs));
    if (!this.stopped) await this.run();
  }

  private async run(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    this.child = child;
    const missing = new Promise<never>((_, reject) => child.once('error', (err) => reject(new Error(`cannot start redis-server (install it: apt-get install redis-server): ${err.message}`))));
    missing.catch(() => undefined);
    await Promise.race([missing, until('redis-server', START_MS, () => answers(this.port, 'PING\r\n', '+PONG'), child)]);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await kill(this.child);
  }
}

/** The signaling server's CLI with `--redis`, in a child process of its own (SIGKILL takes all of it). */
export class ServerProcess {
  private child: ChildProcess | undefined;
  /** Its log lines (JSON), for assertions. */
  readonly lines: string[] = [];

  private constructor(readonly port: number, readonly name: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts `main.ts --redis URL ...args` on a free port; resolves once /healthz answers. */
  static async start(name: string, redisUrl: string, args: string[] = [], echo = false): Promise<ServerProcess> {
    const server = new ServerProcess(await freePort(), name);
    const child = spawn(process.execPath, ['--import', 'tsx', 'signaling-server/src/main.ts', '--port', String(server.port), '--host', '127.0.0.1', '--redis', redisUrl, ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.child = child;
    const take = (chunk: Buffer): void => {
      for (const line of chunk.toString().split('\n').filter((l) => l !== '')) {
        server.lines.push(line);
        if (echo) process.stdout.write(`[${name}] ${line}\n`);
      }
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
    await until(`server ${name}`, START_MS, () => fetch(`${server.url}/healthz`).then((r) => r.ok, () => false), child);
    return server;
  }

  async metrics(): Promise<string> {
    return (await fetch(`${this.url}/metrics`)).text();
  }

  /** SIGKILL: no goodbye to anyone. */
  async stop(): Promise<void> {
    await kill(this.child);
  }
}

/** The value of an unlabelled metric in Prometheus text, or NaN. */
export function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.slice(name.length + 1));
}

/**
 * One address for several backends: each new connection goes to the next backend in turn, or
 * to the one after if that one refuses (a dead process), as a load balancer's health check would.
 */
export class RoundRobinProxy {
  private nextBackend = 0;
  private readonly open = new Set<Socket>();

  private constructor(private readonly server: Server, readonly port: number, private readonly backends: number[]) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(backends: number[]): Promise<RoundRobinProxy> {
    const server = createServer();
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
    });
    const proxy = new RoundRobinProxy(server, port, backends);
    server.on('connection', (client) => proxy.pass(client));
    return proxy;
  }

  async stop(): Promise<void> {
    for (const socket of this.open) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pass(client: Socket, tried = 0): void {
    this.track(client);
    client.pause();
    if (tried >= this.backends.length) {
      client.destroy();
      return;
    }
    const port = this.backends[this.nextBackend % this.backends.length]!;
    this.nextBackend += 1;
    const backend = connect(port, '127.0.0.1');
    let connected = false;
    backend.once('error', () => {
      if (!connected) this.pass(client, tried + 1);
    });
    backend.once('connect', () => {
      connected = true;
      this.track(backend);
      client.pipe(backend).pipe(client);
      client.resume();
      const end = (): void => {
        client.destroy();
        backend.destroy();
      };
      client.once('close', end);
      backend.once('close', end);
      client.on('error', end);
      backend.on('error', end);
    });
  }

  private track(socket: Socket): void {
    if (this.open.has(socket)) return;
    this.open.add(socket);
    socket.on('error', () => socket.destroy());
    socket.once('close', () => this.open.delete(socket));
  }
}
