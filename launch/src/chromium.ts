/**
 * How tabswarm launches Debian's Chromium, in one place for the CLI, the e2e tests and the
 * benchmark: as root (so without the sandbox) on a closed network, with plain host ICE candidates,
 * and without throttling background tabs. Playwright cannot download its own browser here, so it
 * drives the system's (`scripts/ensure-chromium.sh` installs it). WebGL then runs on SwiftShader,
 * Chromium's software renderer, since the machines have no GPU.
 */
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  // ICE uses plain host addresses instead of mDNS names, so nothing multicasts.
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  // Tabs in the background must keep training at full speed.
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

/** Starts a headless Chromium with tabswarm's flags. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
}

/**
 * SwiftShader reports every readback as "GPU stall due to ReadPixels" ("GL Driver Message" in the
 * console): expected here, and filtered from every log a tab writes.
 */
export function isGlNotice(text: string): boolean {
  return text.includes('GL Driver Message');
}
