/**
 * `@tabswarm/shared`: the pure core of tabswarm. It runs unchanged in a tab and in Node: no DOM,
 * no Node built-ins, no socket.io, no simple-peer (the lint enforces it). tfjs comes in through
 * `@tensorflow/tfjs-core` only; whoever runs the core picks and registers a backend.
 *
 * Data flows one way: session -> aggregator -> collective -> messenger -> transport.
 */
export * from './protocol/index.ts';
export * from './rng.ts';
export * from './deadline.ts';
export * from './yield.ts';
export * from './wire/frame.ts';
export * from './wire/messenger.ts';
export * from './transport/transport.ts';
export * from './transport/in-memory-transport.ts';
export * from './transport/shaped-transport.ts';
export * from './collective/collective.ts';
export * from './collective/ring-collective.ts';
export * from './collective/half.ts';
export * from './compress/index.ts';
export { layerSize, matrixView, sentBytes } from './compress/layers.ts';
export { orthonormalizeColumns } from './compress/linalg.ts';
export * from './model/model.ts';
export * from './task/index.ts';
export * from './data/mnist.ts';
export * from './data/example-store.ts';
export * from './data/text-windows.ts';
export * from './data/local-data.ts';
export * from './train/hash.ts';
export * from './train/optimizer.ts';
export * from './train/shard.ts';
export * from './train/snapshot.ts';
export * from './train/session.ts';
export * from './train/observe.ts';
