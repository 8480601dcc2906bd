/**
 * CLI: tsx signaling-server/src/main.ts [--port 8080] [--host 127.0.0.1] [--static DIR] [server flags] [--<config key> VALUE]...
 * Config keys (e.g. `--steps 300 --compressor powersgd`) become the default of every new room and
 * the configuration of the organised rooms (`--room NAME`); the server's own flags (limits,
 * policy, origins, tickets, rooms, the admin token, logs) are in server-flags.ts.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, errorMessage, CONFIG_KEYS, ModelFileError, DEFAULT_CONFIG, ORGANISE_PATH, parseRunConfig, servedModelUrl, type RunConfig } from '@tabswarm/shared/protocol';
import { randomAdminToken } from './admin-token.ts';
import { listenSignalingServer, type ListeningServer } from './listen.ts';
import { jsonLogger } from './log.ts';
import { readServerFlags, SERVER_FLAG_OPTIONS, SERVER_FLAGS_USAGE } from './server-flags.ts';
import type { SignalingOptions } from './server.ts';

const USAGE = `usage: tsx signaling-server/src/main.ts [--port 8080] [--host 127.0.0.1] [--static DIR] [--KEY VALUE]...
  --port, --host   also read from the environment as PORT, HOST; only this machine can connect
                   unless --host says otherwise (e.g. 0.0.0.0; for the internet, a TLS proxy)
  --static DIR     built client to serve (default: client/dist)
${SERVER_FLAGS_USAGE}
  --KEY VALUE      run configuration of the organised rooms and default of new rooms; KEY is one of
                   ${CONFIG_KEYS.join(' ')}`;

interface Cli {
  port: number;
  host: string;
  staticDir: string | undefined;
  config: RunConfig;
  server: SignalingOptions;
  /** The admin token was made here (none given): print it, or nobody can open the organiser page. */
  randomToken: boolean;
}

function readCli(argv: string[], env: NodeJS.ProcessEnv): Cli | 'help' {
  const configFlags = Object.fromEntries(CONFIG_KEYS.map((key) => [key, { type: 'string' as const }]));
  const { values } = parseArgs({
    args: argv,
    options: {
      ...configFlags,
      ...SERVER_FLAG_OPTIONS,
      port: { type: 'string' },
      host: { type: 'string' },
      static: { type: 'string' },
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
  const { options, logLevel } = readServerFlags(values, env);
  const randomToken = options.adminToken === undefined;
  return {
    randomToken,
    port,
    host: flag('host') ?? env.HOST ?? '127.0.0.1',
    staticDir: staticFlag === undefined ? undefined : resolve(staticFlag),
    config: parseRunConfig({ ...Object.fromEntries(CONFIG_KEYS.map((key) => [key, flag(key)])), ...modelTask(flag('task'), options.models?.[0]?.task) }, DEFAULT_CONFIG),
    server: { ...options, adminToken: options.adminToken ?? randomAdminToken(), log: jsonLogger(logLevel) },
  };
}

/** `--model-file` sets the rooms' `task` to the model it names; with `--task` too, which one is meant? */
function modelTask(task: string | undefined, model: string | undefined): { task?: string } {
  if (model === undefined) return {};
  if (task !== undefined && task !== model) throw new ConfigError(`--model-file makes the rooms' task ${model}; leave --task out`);
  return { task: model };
}

async function main(): Promise<void> {
  let cli: Cli | 'help';
  try {
    cli = readCli(process.argv.slice(2), process.env);
  } catch (err) {
    // A model file refused says so by name: it is no usage error.
    if (err instanceof ModelFileError) console.error(`tabswarm: ${err.name}: ${err.message}`);
    else console.error(`tabswarm: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    process.exitCode = 1;
    return;
  }
  if (cli === 'help') {
    console.log(USAGE);
    return;
  }

  let listening: ListeningServer;
  try {
    listening = await listenSignalingServer({ ...cli.server, host: cli.host, port: cli.port, defaultConfig: cli.config, staticDir: cli.staticDir });
  } catch (err) {
    // A ConfigError says itself what is wrong (e.g. Redis cannot be reached); anything else is the listen.
    console.error(`tabswarm: ${err instanceof ConfigError ? err.message : `cannot listen on ${cli.host}:${cli.port}: ${errorMessage(err)}`}`);
    process.exitCode = 1;
    return;
  }
  const log = cli.server.log!;
  log.info(`tabswarm signaling server on ${listening.url} (open it in several tabs)`, { event: 'listening', url: listening.url });
  const changed = CONFIG_KEYS.filter((key) => cli.config[key] !== DEFAULT_CONFIG[key]);
  if (changed.length > 0) log.info(`default room config: ${changed.map((key) => `${key}=${cli.config[key]}`).join(' ')}`, { event: 'config' });
  for (const model of cli.server.models ?? []) log.info(`model file ${model.task}: ${model.layers} layers, ${model.parameters === null ? 'no weights (seeded)' : `${model.parameters} weights`}, at ${listening.url}${servedModelUrl(model.task)}`, { event: 'model', task: model.task });
  // Those of --room and of --rooms-file.
  for (const { room } of listening.signaling.rooms().filter((r) => r.organised)) log.info(`organised room ${room}: ${listening.url}/?room=${room}`, { event: 'organised', room });
  if (cli.server.openRooms === false) log.info('only organised rooms can be joined (--open-rooms false)', { event: 'config' });
  const password = cli.randomToken ? `, password ${cli.server.adminToken}` : ' (password: the admin token given)';
  log.info(`organiser page: ${listening.url}${ORGANISE_PATH}${password}`, { event: 'organiser' });
  const ice = cli.server.ice ?? {};
  const iceUrls = [...(ice.stun ?? []), ...(ice.turn?.urls ?? [])];
  if (iceUrls.length > 0) log.info(`ICE servers handed to tabs: ${iceUrls.join(' ')}${ice.turn ? ` (TURN credentials valid ${ice.turn.ttlSeconds} s)` : ''}`, { event: 'ice' });

  let closing = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    // A second Ctrl-C means: stop waiting for connections to close.
    if (closing) process.exit(1);
    closing = true;
    log.info(`${signal}: closing`, { event: 'closing' });
    listening.close().catch((err: unknown) => {
      console.error(`tabswarm: close failed: ${errorMessage(err)}`);
      process.exitCode = 1;
    });
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

await main();
