/**
 * How tabswarm launches Debian's Chromium, in one place for the CLI, the e2e tests and the
 * benchmark (see ../shared/PLATFORM.md): as root on a closed network, with host ICE candidates,
 * and without throttling background tabs.
 */
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
