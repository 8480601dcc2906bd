/** The signaling server in this process for the swarm CLI, its log in a file. */
import { createWriteStream } from 'node:fs';
import { listenSignalingServer } from '@tabswarm/signaling-server';
import type { RunConfig } from '@tabswarm/shared/protocol';

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

export async function startServer(init: { host: string; port: number; logFile: string; defaultConfig: RunConfig }): Promise<RunningServer> {
  const log = createWriteStream(init.logFile, { flags: 'a' });
  const closeLog = (): Promise<void> => new Promise<void>((resolve) => log.end(resolve));
  try {
    const server = await listenSignalingServer({
      host: init.host,
      port: init.port,
      defaultConfig: init.defaultConfig,
      log: { info: (line) => log.write(`${line}\n`), error: (line) => log.write(`ERROR ${line}\n`) },
      // A swarm of many workers on one host sends its burst of ICE candidates from one place, and
      // all its workers share one address: the caps per address are for strangers on a public server.
      rateLimit: { burst: 1000, perSecond: 500 },
      addressRateLimit: { burst: 20_000, perSecond: 5_000 },
      addressByteLimit: { burst: 64 * 1024 * 1024, perSecond: 16 * 1024 * 1024 },
      maxMembersPerAddress: 256,
      maxConnectionsPerAddress: 1024,
    });
    return {
      url: server.url,
      close: async () => {
        await server.close();
        await closeLog();
      },
    };
  } catch (err) {
    await closeLog();
    throw err;
  }
}
