/**
 * `@tabswarm/launch`: how tools start tabswarm's parts on this machine, in one place for the swarm
 * CLI, the e2e tests and the benchmark. Node-only.
 * - Debian's Chromium with tabswarm's flags, and the filter for its expected GL notices;
 * - the signaling server in this process on a free port;
 * - tabs and Node workers as `WorkerHandle`s that report status and step records.
 */
import './tab-window.ts';

export * from './chromium.ts';
export * from './signaling-server.ts';
export * from './tabs.ts';
export * from './node-worker.ts';
export * from './worker-handle.ts';
export { importTask } from '@tabswarm/client/task-module';
