/**
 * The signaling server on its own HTTP server, listening: one way to start it for the command line,
 * the swarm CLI and every test (port 0 picks a free one).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSignalingServer, type SignalingOptions, type SignalingServer } from './server.ts';

export interface ListenOptions extends SignalingOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @default 0 */
  port?: number;
}

export interface ListeningServer {
  /** `http://host:port`, with loopback for a wildcard host and brackets for IPv6. */
  readonly url: string;
  readonly port: number;
  readonly signaling: SignalingServer;
  /** Disconnects every tab and closes the server. */
  close(): Promise<void>;
}

/** Starts a signaling server; rejects (having closed it) if it cannot listen. */
export async function listenSignalingServer(options: ListenOptions = {}): Promise<ListeningServer> {
  const { host = '127.0.0.1', port = 0, ...signalingOptions } = options;
  const httpServer = createServer();
  const signaling = createSignalingServer(httpServer, signalingOptions);
  try {
    await signaling.ready;
    await new Promise<void>((done, fail) => {
      httpServer.once('error', fail);
      httpServer.listen(port, host, () => {
        httpServer.off('error', fail);
        done();
      });
    });
  } catch (err) {
    await signaling.close();
    throw err;
  }
  const bound = (httpServer.address() as AddressInfo).port;
  // A wildcard address listens everywhere; this machine reaches it over loopback.
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const shown = reachable.includes(':') ? `[${reachable}]` : reachable;
  return { url: `http://${shown}:${bound}`, port: bound, signaling, close: () => signaling.close() };
}
