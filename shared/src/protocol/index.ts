/**
 * `@tabswarm/shared/protocol`: the contracts two sides share, and nothing heavy (no tfjs). The
 * signaling server, the client, the swarm CLI and the tests all speak these:
 * - the socket.io event maps and payloads between a tab and the signaling server;
 * - what a worker reports about itself (`TabStatus`, `StepRecord`, `SessionEvent`);
 * - the IPC messages between a forked Node worker and its parent;
 * - the run configuration and link settings (URL/CLI names, a stable interface);
 * - the named errors;
 * - HTTP byte ranges, as a tab asks the server for the examples of its shard.
 */
export * from './signaling.ts';
export * from './status.ts';
export * from './worker-ipc.ts';
export * from './organise.ts';
export * from '../train/config.ts';
export * from '../link.ts';
export * from '../errors.ts';
export * from '../quote.ts';
export * from '../train/config-cost.ts';
export * from '../data/byte-ranges.ts';
export * from '../data/download-estimate.ts';
export * from '../task/model-file.ts';
