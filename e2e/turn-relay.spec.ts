/**
 * NAT traversal with a real TURN server. Two Chromium processes, each in a network namespace of
 * its own that cannot route to the other (netns.ts), train one room; the signaling server and
 * Debian's coturn run in a hub namespace both reach. The server is started with `--turn` and
 * `--turn-secret`, so each tab gets TURN credentials in its join ack and the only path between
 * the tabs goes through coturn's relay: the tabs must train to the end with identical replicas,
 * and each tab's stats (status().peerPaths, from getStats) must show a relayed candidate pair.
 * Then the same run with both browsers in one namespace, where the direct path wins: the
 * all-reduce's throughput through TURN beside the direct one.
 */
import { createHmac } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { chromium, expect, test, type Browser, type Page } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH, openTab, watchTab } from '@tabswarm/launch';
import type { StepRecord, TabStatus } from '@tabswarm/shared/protocol';
import { bulkThroughput, type BulkResult } from './bulk-transfer.ts';
import { requireCoturn, startCoturn, TURN_PORT } from './coturn.ts';
import { historyOf, uniqueRoom, waitForTabs } from './harness.ts';
import { HUB_ADDRESS, NetnsLab, requireNetnsSupport, waitForOutput, type Spoke } from './netns.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The signaling server's port in the hub namespace, where nothing else listens. */
const SERVER_PORT = 8080;
const SECRET = `e2e-${Math.random().toString(36).slice(2)}`;
const STEPS = 40;
/** wasm: the lightest backend for two browsers on two shared cores. */
const PARAMS = `workers=2&steps=${STEPS}&evalEvery=20&model=mlp&backend=wasm`;
const RUN_MS = 150_000;
const TURN_URL = `turn:${HUB_ADDRESS}:${TURN_PORT}?transport=udp`;
/** Sent over one bare data channel to measure what a path carries. */
const BULK_BYTES = 16 * 1024 * 1024;

let lab: NetnsLab | undefined;
// Whatever happened: the processes, namespaces and veths go.
test.afterAll(async () => {
  await lab?.close();
});

interface Run {
  statuses: TabStatus[];
  histories: StepRecord[][];
  /** What each page's peer list says. */
  peerLists: string[];
}

/** One room with a tab in a browser of its own in each of `spokes`, trained to the end. */
async function train(spokes: Spoke[], room: string): Promise<Run> {
  const browsers: Browser[] = [];
  try {
    const pages: Page[] = [];
    for (const [i, spoke] of spokes.entries()) {
      const browser = await chromium.launch({ executablePath: lab!.wrapper(spoke.netns, CHROMIUM_PATH), args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
      browsers.push(browser);
      const page = await (await browser.newContext()).newPage();
      watchTab(page, (line) => console.log(`[${room} tab ${i}] ${line}`), { errorsOnly: true });
      await openTab(page, `http://${HUB_ADDRESS}:${SERVER_PORT}/?room=${room}&${PARAMS}`);
      pages.push(page);
    }
    // Done, and the path measured (every 3 s; a finished tab keeps its channel open).
    const statuses = await waitForTabs(pages, (s) => s.every((t) => t.state === 'done' && t.peerPaths[0] !== undefined && t.peerPaths[0].path !== 'unknown'), RUN_MS);
    const peerLists = await Promise.all(pages.map((page) => page.locator('#peers').innerText({ timeout: 10_000 })));
    return { statuses, histories: await Promise.all(pages.map(historyOf)), peerLists };
  } finally {
    await Promise.all(browsers.map((b) => b.close().catch(() => undefined)));
  }
}

/** Browsers in `spokes`, one page each on the hub's origin; closed when `use` is done. */
async function withPages<T>(spokes: Spoke[], use: (pages: Page[]) => Promise<T>): Promise<T> {
  const browsers: Browser[] = [];
  try {
    const pages: Page[] = [];
    for (const spoke of spokes) {
      const browser = await chromium.launch({ executablePath: lab!.wrapper(spoke.netns, CHROMIUM_PATH), args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
      browsers.push(browser);
      const page = await (await browser.newContext()).newPage();
      await page.goto(`http://${HUB_ADDRESS}:${SERVER_PORT}/healthz`);
      pages.push(page);
    }
    return await use(pages);
  } finally {
    await Promise.all(browsers.map((b) => b.close().catch(() => undefined)));
  }
}

/**
 * The raw throughput of one data channel between a page in `from` and one in `to`, both offered
 * the TURN server (credentials made here as the signaling server makes them: the test plays the
 * organiser who holds the secret).
 */
function bulk(from: Spoke, to: Spoke): Promise<BulkResult> {
  const username = `${Math.floor(Date.now() / 1000) + 600}:bulk`;
  const iceServers = [{ urls: [TURN_URL], username, credential: createHmac('sha1', SECRET).update(username).digest('base64') }];
  return withPages([from, to], ([sender, receiver]) => bulkThroughput(sender!, receiver!, iceServers, BULK_BYTES));
}

/** Every tab finished every step with the same weights at every step; each sees the other over one channel. */
function expectIdenticalReplicas({ statuses, histories }: Run): void {
  for (const s of statuses) {
    expect(s.step).toBe(STEPS);
    expect(s.weightsHash).toBe(statuses[0]!.weightsHash);
    expect(s.peerPaths.map((p) => p.peerId)).toEqual(statuses.filter((o) => o !== s).map((o) => o.peerId));
  }
  for (const h of histories) expect(h.map((r) => r.weightsHash)).toEqual(histories[0]!.map((r) => r.weightsHash));
}

/** The all-reduce's bytes per second and the steps per second of tab 0, after its first (warm-up) step. */
function figures({ statuses, histories }: Run): { bytesPerSecond: number; stepsPerSecond: number; rttMs: number | null; pair: string } {
  const steady = histories[0]!.slice(1);
  const bytes = steady.reduce((sum, r) => sum + r.bytesSent, 0);
  const seconds = steady.reduce((sum, r) => sum + r.ms.communicate, 0) / 1000;
  const path = statuses[0]!.peerPaths[0]!;
  return {
    bytesPerSecond: bytes / seconds,
    stepsPerSecond: (steady.length - 1) / ((steady.at(-1)!.time - steady[0]!.time) / 1000),
    rttMs: path.roundTripMs,
    pair: `${path.localCandidateType}-${path.remoteCandidateType}`,
  };
}

test('two tabs that cannot reach each other train through a real coturn relay, with identical replicas', async () => {
  // Two runs and two transfers, each with its own deadline; a loaded machine (shared cores) needs the headroom.
  test.setTimeout(6 * 60_000);
  const started = Date.now();
  await requireNetnsSupport();
  await requireCoturn();
  lab = await NetnsLab.create(2);
  const [a, b] = lab.spokes as [Spoke, Spoke];
  // The spokes are apart: their only way out is the hub, which forwards nothing.
  expect((await lab.exec(lab.hub, ['cat', '/proc/sys/net/ipv4/ip_forward'])).trim()).toBe('0');
  await startCoturn(lab, { netns: lab.hub, address: HUB_ADDRESS, secret: SECRET, realm: 'tabswarm.test', dir: lab.dir });
  const server = lab.spawn(lab.hub, process.execPath, [
    '--import', 'tsx', 'signaling-server/src/main.ts', '--host', HUB_ADDRESS, '--port', String(SERVER_PORT),
    '--turn', TURN_URL, '--turn-secret', SECRET, '--turn-ttl', '600',
  ], 'server', { cwd: ROOT });
  await waitForOutput(server, /tabswarm signaling server on/, 'the signaling server', 30_000);

  const relayed = await train([a, b], uniqueRoom('turn'));
  expectIdenticalReplicas(relayed);
  for (const s of relayed.statuses) {
    const path = s.peerPaths[0]!;
    expect(path.path, `tab ${s.peerId}: ${JSON.stringify(path)}`).toBe('relay');
    expect([path.localCandidateType, path.remoteCandidateType]).toContain('relay');
    expect(path.roundTripMs).not.toBeNull();
  }
  for (const text of relayed.peerLists) expect(text, 'the page shows the path').toContain('relayed by TURN');
  const relayMs = Date.now() - started;

  // The same run where a direct path exists (both browsers in spoke a): ICE prefers it.
  const direct = await train([a, a], uniqueRoom('direct'));
  expectIdenticalReplicas(direct);
  for (const s of direct.statuses) expect(s.peerPaths[0]!.path, JSON.stringify(s.peerPaths[0])).toBe('direct');
  for (const text of direct.peerLists) expect(text).toContain('direct (host-');

  // What each path carries on one bare data channel, apart from training's compute.
  const bulkRelayed = await bulk(a, b);
  expect(bulkRelayed.pair).toContain('relay');
  const bulkDirect = await bulk(a, a);
  expect(bulkDirect.pair).not.toContain('relay');

  const [r, d] = [figures(relayed), figures(direct)];
  expect(r.bytesPerSecond).toBeGreaterThan(0);
  expect(d.bytesPerSecond).toBeGreaterThan(0);
  const line = (name: string, f: typeof r): string =>
    `${name} (${f.pair}): all-reduce ${(f.bytesPerSecond / 1e6).toFixed(2)} MB/s sent, ${f.stepsPerSecond.toFixed(2)} steps/s, rtt ${f.rttMs?.toFixed(2) ?? '-'} ms`;
  console.log(`2 tabs, MLP, ${STEPS} steps, wasm: ${line('relayed by coturn', r)}; ${line('direct', d)}; relay/direct throughput ${(r.bytesPerSecond / d.bytesPerSecond).toFixed(2)}`);
  const mb = (f: BulkResult): string => `${(f.bytesPerSecond / 1e6).toFixed(1)} MB/s (${f.pair})`;
  console.log(`one data channel, ${BULK_BYTES / 1024 / 1024} MiB: relayed by coturn ${mb(bulkRelayed)}; direct ${mb(bulkDirect)}; relay/direct ${(bulkRelayed.bytesPerSecond / bulkDirect.bytesPerSecond).toFixed(2)}`);
  console.log(`relayed run incl. set-up ${(relayMs / 1000).toFixed(1)} s; whole test ${((Date.now() - started) / 1000).toFixed(1)} s`);
});
