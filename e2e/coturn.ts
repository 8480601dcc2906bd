/**
 * A real TURN server for the tests: Debian's coturn (`turnserver`), in a network namespace of a
 * NetnsLab, with the REST-API shared secret the signaling server derives credentials from
 * (`use-auth-secret` + `static-auth-secret`), UDP only, a realm, no TLS, no admin CLI. It runs in
 * a fresh namespace, so its port is free there; its files (pid, database) go in `dir`.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { NetnsLab } from './netns.ts';

export const TURN_PORT = 3478;
const START_MS = 15_000;

/** Fails with a clear message when coturn is not installed (scripts/ensure-test-services.sh installs it). */
export function requireCoturn(): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('turnserver', ['--version'], { timeout: 5_000 }, (err) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') reject(new Error('this test needs coturn\'s turnserver (apt-get install coturn; scripts/ensure-test-services.sh does it); it is not skipped'));
      else resolve();
    });
  });
}

/** Starts turnserver on `address`:TURN_PORT inside `netns`; resolves once it listens. Stopped by the lab's close(). */
export async function startCoturn(lab: NetnsLab, init: { netns: string; address: string; secret: string; realm: string; dir: string }): Promise<void> {
  const child = lab.spawn(init.netns, 'turnserver', [
    '-n', // no configuration file: every setting is here
    `--listening-ip=${init.address}`,
    `--relay-ip=${init.address}`,
    `--listening-port=${TURN_PORT}`,
    '--use-auth-secret',
    `--static-auth-secret=${init.secret}`,
    `--realm=${init.realm}`,
    '--no-tls',
    '--no-dtls',
    '--no-tcp',
    '--no-cli',
    // The peers' addresses are in the benchmarking range, which the test's namespaces use.
    '--allowed-peer-ip=198.18.0.0-198.19.255.255',
    `--pidfile=${join(init.dir, 'turnserver.pid')}`,
    `--db=${join(init.dir, 'turndb')}`,
    '--log-file=stdout',
    '--simple-log',
  ], 'coturn');
  for (const started = Date.now(); ; await new Promise((r) => setTimeout(r, 200))) {
    if (child.exitCode !== null) throw new Error(`coturn exited with code ${child.exitCode} (its log is above)`);
    const listening = await lab.exec(init.netns, ['ss', '-Hlnu', `sport = :${TURN_PORT}`]);
    if (listening.trim() !== '') return;
    if (Date.now() - started > START_MS) throw new Error(`coturn does not listen on UDP port ${TURN_PORT} within ${START_MS} ms`);
  }
}
