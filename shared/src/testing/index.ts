/**
 * `@tabswarm/shared/testing`: what tests of tabswarm (in any workspace) share. Node-only: never
 * bundled into the client.
 * - N peers in one process: a simulated collective (`simulatePeers`) and a real ring over an
 *   in-memory network (`createLocalGroup`);
 * - seeded test inputs.
 */
export * from './simulated-collective.ts';
export * from './local-group.ts';
export { quadrantImages } from '../data/synthetic.ts';
