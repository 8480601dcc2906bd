/** `@tabswarm/signaling-server`: build one on an HTTP server of yours, or let it listen on its own. */
export * from './server.ts';
export * from './listen.ts';
export { Tickets } from './tickets.ts';
export { prepareModel, readModelFile, type StoredModel } from './model-store.ts';
