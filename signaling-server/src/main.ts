/**
 * CLI: tsx signaling-server/src/main.ts [--port 8080] [--host 0.0.0.0] [--static DIR]
 *   [--stun URL]... [--turn URL... --turn-secret S [--turn-ttl SECONDS]] [--<config key> VALUE]...
 * Config keys (e.g. `--steps 300 --compressor powersgd`) become the default of every new room.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, errorMessage, CONFIG_KEYS, DEFAULT_CONFIG, parseRunConfig, type RunConfig } from '@tabswarm/shared/protocol';
import { checkIceOptions, DEFAULT_TURN_TTL_SECONDS, type IceOptions } from './ice-servers.ts';
import { listenSignalingServer, type ListeningServer } from './listen.ts';

const USAGE = `usage: tsx signaling-server/src/main.ts [--port 8080] [--host 0.0.0.0] [--static DIR] [--KEY VALUE]...
  --port, --host   also read from the environment as PORT, HOST
  --static DIR     built client to serve (default: client/dist)
  --stun URL       a STUN server handed to every tab (repeatable), e.g. stun:stun.example.org:3478
  --turn URL       a TURN server (repeatable, one secret), e.g. turn:turn.example.org:3478
  --turn-secret S  coturn's static-auth-secret (use-auth-secret); also read from TURN_SECRET.
                   Tabs get credentials derived from it, never the secret
  --turn-ttl SEC   how long a tab's TURN credentials stay valid (default ${DEFAULT_TURN_TTL_SECONDS})
  --KEY VALUE      default run configuration of new rooms; KEY is one of
                   ${CONFIG_KEYS.join(' ')}`;

interface Cli {
  port: number;
  host: string;
  staticDir: string | undefined;
  config: RunConfig;
  ice: IceOptions;
}

function readCli(argv: string[], env: NodeJS.ProcessEnv): Cli | 'help' {
  const configFlags = Object.fromEntries(CONFIG_KEYS.map((key) => [key, { type: 'string' as const }]));
  const { values } = parseArgs({
    args: argv,
    options: {
      ...configFlags,
      port: { type: 'string' },
      host: { type: 'string' },
      static: { type: 'string' },
      stun: { type: 'string', multiple: true },
      turn: { type: 'string', multiple: true },
      'turn-secret': { type: 'string' },
      'turn-ttl': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help === true) return 'help';
  const flag = (key: string): string | undefined => {
    const value: unknown = (values as Record<string, unknown>)[key];
    return typeof value === 'string' ? value : undefined;
  };

  const portText = flag('port') ?? env.PORT ?? '8080';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65_535) throw new ConfigError(`port must be an integer in [0, 65535], got ${JSON.stringify(portText)}`);
  const staticFlag = flag('static');
  return {
    port,
    host: flag('host') ?? env.HOST ?? '0.0.0.0',
    staticDir: staticFlag === undefined ? undefined : resolve(staticFlag),
    config: parseRunConfig(Object.fromEntries(CONFIG_KEYS.map((key) => [key, flag(key)])), DEFAULT_CONFIG),
    ice: readIceFlags(values.stun ?? [], values.turn ?? [], flag('turn-secret') ?? env.TURN_SECRET, flag('turn-ttl')),
  };
}

/** `--stun`, `--turn`, `--turn-secret` (or TURN_SECRET), `--turn-ttl`: checked here, so a typo is a usage error. */
function readIceFlags(stun: string[], turn: string[], secret: string | undefined, ttlText: string | undefined): IceOptions {
  if (turn.length === 0) {
    if (ttlText !== undefined) throw new ConfigError('--turn-ttl needs --turn');
    checkIceOptions({ stun });
    return { stun };
  }
  if (secret === undefined) throw new ConfigError('--turn needs --turn-secret (or TURN_SECRET): the secret coturn was given as static-auth-secret');
  const ttlSeconds = ttlText === undefined ? DEFAULT_TURN_TTL_SECONDS : Number(ttlText);
  if (ttlText !== undefined && !/^\d+$/.test(ttlText)) throw new ConfigError(`--turn-ttl must be a whole number of seconds, got ${JSON.stringify(ttlText)}`);
  const ice = { stun, turn: { urls: turn, secret, ttlSeconds } };
  checkIceOptions(ice);
  return ice;
}

async function main(): Promise<void> {
  let cli: Cli | 'help';
  try {
    cli = readCli(process.argv.slice(2), process.env);
  } catch (err) {
    console.error(`tabswarm: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    process.exitCode = 1;
    return;
  }
  if (cli === 'help') {
    console.log(USAGE);
    return;
  }

  let listening: ListeningServer;
  try {
    listening = await listenSignalingServer({ host: cli.host, port: cli.port, defaultConfig: cli.config, staticDir: cli.staticDir, ice: cli.ice });
  } catch (err) {
    console.error(`tabswarm: cannot listen on ${cli.host}:${cli.port}: ${errorMessage(err)}`);
    process.exitCode = 1;
    return;
  }
  console.log(`tabswarm signaling server on ${listening.url} (open it in several tabs)`);
  const changed = CONFIG_KEYS.filter((key) => cli.config[key] !== DEFAULT_CONFIG[key]);
  if (changed.length > 0) console.log(`default room config: ${changed.map((key) => `${key}=${cli.config[key]}`).join(' ')}`);
  const ice = [...(cli.ice.stun ?? []), ...(cli.ice.turn?.urls ?? [])];
  if (ice.length > 0) console.log(`ICE servers handed to tabs: ${ice.join(' ')}${cli.ice.turn ? ` (TURN credentials valid ${cli.ice.turn.ttlSeconds} s)` : ''}`);

  let closing = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    // A second Ctrl-C means: stop waiting for connections to close.
    if (closing) process.exit(1);
    closing = true;
    console.log(`${signal}: closing`);
    listening.close().catch((err: unknown) => {
      console.error(`tabswarm: close failed: ${errorMessage(err)}`);
      process.exitCode = 1;
    });
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

await main();
