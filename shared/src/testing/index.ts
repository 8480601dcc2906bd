/**
 * `@tabswarm/shared/testing`: what tests of tabswarm (in any workspace) share. Node-only (it
 * registers node:test suites); its one browser-safe module, the simulated collective, has its own
 * subpath (`@tabswarm/shared/testing/simulated-collective`) for the browser benchmark.
 * - Contract suites, each run against every implementation of its interface: `transportContract`,
 *   `collectiveContract`, `codecContract`, `aggregatorContract`;
 * - N peers in one process: a simulated collective (`simulatePeers`) and a real ring over an
 *   in-memory network (`createLocalGroup`);
 * - a manual clock (`ManualClock`) for code that takes a `Clock`;
 * - seeded test inputs, and IDX files of random images (`idxFiles`).
 */
export * from './simulated-collective.ts';
export * from './local-group.ts';
export * from './manual-clock.ts';
export * from './transport-contract.ts';
export { quadrantImages } from '../data/synthetic.ts';
export * from './idx-fixture.ts';
export * from './collective-contract.ts';
export * from './codec-contract.ts';
export * from './aggregator-contract.ts';
export * from './task-room.ts';
export * from './model-files.ts';
export * from './conv-net.ts';
