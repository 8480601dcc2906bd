/** Runs the swarm CLI as a user would (a child process from the repository root), with a deadline. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface CliRun {
  code: number | null;
  /** stdout and stderr, interleaved as they came (empty when `echo` is set). */
  output: string;
}

/**
 * Resolves with the exit code and output; rejects (after SIGKILL) if the CLI has not exited
 * within `timeoutMs`. With `echo`, the CLI prints to this process's terminal instead.
 */
export function runCli(args: string[], timeoutMs: number, options: { echo?: boolean } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'swarm/src/cli.ts', ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', options.echo ? 'inherit' : 'pipe', options.echo ? 'inherit' : 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the CLI did not finish within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
