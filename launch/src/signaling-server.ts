/** The signaling server in this process, on a free port unless told otherwise (the swarm CLI, tests). */
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSignalingServer } from '@tabswarm/signaling-server';
import type { RunConfig } from '@tabswarm/shared/protocol';

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

export async function startServer(init: { host: string; port: number; logFile: string; defaultConfig: RunConfig }): Promise<RunningServer> {
  const log = createWriteStream(init.logFile, { flags: 'a' });
  const httpServer = createServer();
  const server = createSignalingServer(httpServer, {
    defaultConfig: init.defaultConfig,
    log: { info: (line) => log.write(`${line}\n`), error: (line) => log.write(`ERROR ${line}\n`) },
    // A swarm of many workers on one host sends its burst of ICE candidates from one place.
    rateLimit: { burst: 1000, perSecond: 500 },
  });
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(init.port, init.host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  const { port } = httpServer.address() as AddressInfo;
  const host = init.host.includes(':') ? `[${init.host}]` : init.host;
  return {
    url: `http://${host}:${port}`,
    close: async () => {
      await server.close();
      await new Promise<void>((resolve) => log.end(resolve));
    },
  };
}
