/**
 * A signaling server the test can kill and start again on the same port: the CLI in a child
 * process of its own (one process, so SIGKILL takes all of it), as an operator's server dies in a
 * crash or a deploy. Not Playwright's webServer, which lives as long as the whole run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '@tabswarm/signaling-server/cluster-testing';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const START_MS = 30_000;

export class KillableServer {
  private child: ChildProcess | undefined;

  /** `args`: more CLI flags, e.g. `--admin-token T --room lab --model cnn`. */
  private constructor(readonly port: number, private readonly args: readonly string[] = []) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** A server started on `port` (default: a free one) with `args`, answering /healthz. */
  static async start(options: { port?: number; args?: readonly string[] } = {}): Promise<KillableServer> {
    const server = new KillableServer(options.port ?? await freePort(), options.args);
    await server.start();
    return server;
  }

  /** Starts the server process on its port; resolves once /healthz answers. */
  async start(): Promise<void> {
    if (this.child) throw new Error('the server is running already');
    const child = spawn(process.execPath, ['--import', 'tsx', 'signaling-server/src/main.ts', '--port', String(this.port), '--host', '127.0.0.1', ...this.args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout?.on('data', (chunk: Buffer) => process.stdout.write(`[server] ${chunk.toString()}`));
    child.stderr?.on('data', (chunk: Buffer) => process.stdout.write(`[server] ${chunk.toString()}`));
    for (const started = Date.now(); ; await new Promise((r) => setTimeout(r, 100))) {
      if (child.exitCode !== null) throw new Error(`the server exited with code ${child.exitCode}`);
      if (Date.now() - started > START_MS) throw new Error(`the server did not answer /healthz within ${START_MS} ms`);
      const healthy = await fetch(`${this.url}/healthz`).then((r) => r.ok, () => false);
      if (healthy) return;
    }
  }

  /** SIGKILL: no goodbye to anyone. Resolves once the process is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await gone;
  }
}
