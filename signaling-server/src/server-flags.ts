/**
 * The server's own CLI flags (limits, policy, origins, tickets, ICE servers, organised rooms, the
 * organiser's model file, the admin token, logs), apart from main.ts so that a new flag is one row here. Flag names are a
 * stable interface: add, never rename; none may be a run configuration key (those are the rooms'
 * configuration on the same command line).
 */
import { readFileSync } from 'node:fs';
import { ConfigError, DEFAULT_MODEL_FILE_LIMITS, ROOM_NAME_PATTERN } from '@tabswarm/shared/protocol';
import { checkAdminToken } from './admin-token.ts';
import { checkIceOptions, DEFAULT_TURN_TTL_SECONDS, type IceOptions } from './ice-servers.ts';
import { LOG_LEVELS, type LogLevel } from './log.ts';
import { readModelFile } from './model-store.ts';
import type { ClusterOptions, SignalingOptions } from './server.ts';

type IntegerFlag = 'max-batch-size' | 'max-eval-per-step' | 'min-period' | 'max-members' | 'max-rooms' | 'max-members-per-address' | 'max-rooms-per-address'
  | 'max-connections' | 'max-connections-per-address' | 'eviction-cooldown-ms' | 'resync-window-ms' | 'solo-resync-ms' | 'join-within-ms' | 'room-start-ms'
  | 'max-model-bytes' | 'max-model-params';

/** Integer flags and what each sets. */
const INTEGER_FLAGS: Record<IntegerFlag, (options: SignalingOptions, value: number) => void> = {
  'max-batch-size': (o, v) => { o.policy = { ...o.policy, maxBatchSize: v }; },
  'max-eval-per-step': (o, v) => { o.policy = { ...o.policy, maxEvalPerStep: v }; },
  'min-period': (o, v) => { o.policy = { ...o.policy, minPeriod: v }; },
  'max-members': (o, v) => { o.maxMembersPerRoom = v; },
  'max-rooms': (o, v) => { o.maxRooms = v; },
  'max-members-per-address': (o, v) => { o.maxMembersPerAddress = v; },
  'max-rooms-per-address': (o, v) => { o.maxRoomsPerAddress = v; },
  'max-connections': (o, v) => { o.maxConnections = v; },
  'max-connections-per-address': (o, v) => { o.maxConnectionsPerAddress = v; },
  'eviction-cooldown-ms': (o, v) => { o.evictionCooldownMs = v; },
  'resync-window-ms': (o, v) => { o.resyncWindowMs = v; },
  'solo-resync-ms': (o, v) => { o.soloResyncMs = v; },
  'join-within-ms': (o, v) => { o.joinWithinMs = v; },
  'room-start-ms': (o, v) => { o.roomStartMs = v; },
  'max-model-bytes': (o, v) => { o.modelLimits = { ...(o.modelLimits ?? DEFAULT_MODEL_FILE_LIMITS), maxBytes: v }; },
  'max-model-params': (o, v) => { o.modelLimits = { ...(o.modelLimits ?? DEFAULT_MODEL_FILE_LIMITS), maxParameters: v }; },
};

/** parseArgs options of these flags. */
export const SERVER_FLAG_OPTIONS = {
  ...Object.fromEntries(Object.keys(INTEGER_FLAGS).map((name) => [name, { type: 'string' as const }])),
  'allowed-origin': { type: 'string' as const, multiple: true as const },
  'trust-proxy': { type: 'boolean' as const },
  'log-level': { type: 'string' as const },
  'ticket-key-file': { type: 'string' as const },
  stun: { type: 'string' as const, multiple: true as const },
  turn: { type: 'string' as const, multiple: true as const },
  'turn-secret': { type: 'string' as const },
  'turn-ttl': { type: 'string' as const },
  redis: { type: 'string' as const },
  'redis-lease-ms': { type: 'string' as const },
  room: { type: 'string' as const, multiple: true as const },
  'open-rooms': { type: 'string' as const },
  'rooms-file': { type: 'string' as const },
  'admin-token': { type: 'string' as const },
  'model-file': { type: 'string' as const },
};

export const SERVER_FLAGS_USAGE = `  --allowed-origin URL   an origin whose pages may connect (repeatable; default: this server's own)
  --trust-proxy          behind a reverse proxy: the client address is X-Forwarded-For's last
  --log-level LEVEL      ${LOG_LEVELS.join('|')} (default info); JSON lines on stdout
  --ticket-key-file F    every room needs a join ticket signed with this key (or TABSWARM_TICKET_KEY)
  --stun URL             a STUN server handed to every tab (repeatable), e.g. stun:stun.example.org:3478
  --turn URL             a TURN server (repeatable, one secret), e.g. turn:turn.example.org:3478
  --turn-secret S        coturn's static-auth-secret (use-auth-secret); also read from TURN_SECRET.
                         Tabs get credentials derived from it, never the secret
  --turn-ttl SEC         how long a tab's TURN credentials stay valid (default ${DEFAULT_TURN_TTL_SECONDS})
  --redis URL            share rooms with the other server processes on this Redis (redis://host:port),
                         e.g. several processes behind one address; without it the server runs alone
  --redis-lease-ms N     a dead process's rooms move to the others after about this long (default 3000)
  --room NAME            an organised room (repeatable), open from the start with the run configuration
                         given by the --KEY VALUE flags; joiners' URL keys are ignored there
  --open-rooms BOOL      true (default): joining an unknown room opens it with the joiner's keys;
                         false: only organised rooms exist (UnknownRoomError)
  --rooms-file PATH      keep the rooms made on the organiser page (name and configuration) in this
                         JSON file, and open them again at start
  --model-file F         the organiser's model: tfjs's model.json (a LayersModel, its weights files
                         beside it if it has any), checked at start; the rooms train it (their task
                         key names it), tabs fetch it from /models/ and start from its weights if any
  --max-model-bytes N    a model file (model.json and weights) at most this big (default ${DEFAULT_MODEL_FILE_LIMITS.maxBytes})
  --max-model-params N   a model's weights manifest at most this many values (default ${DEFAULT_MODEL_FILE_LIMITS.maxParameters})
  --admin-token T        the organiser page's password (or TABSWARM_ADMIN_TOKEN, at least 16
                         characters); without either a random one is printed at start
  --${Object.keys(INTEGER_FLAGS).filter((name) => !name.startsWith('max-model-')).join(' N, --')} N`;

/** The options these flags set; `values` as parseArgs returned them. Throws ConfigError. */
export function readServerFlags(values: Record<string, unknown>, env: NodeJS.ProcessEnv): { options: SignalingOptions; logLevel: LogLevel } {
  const options: SignalingOptions = {};
  for (const [name, apply] of Object.entries(INTEGER_FLAGS)) {
    const text = values[name];
    if (typeof text !== 'string') continue;
    if (!/^\d{1,9}$/.test(text) || Number(text) < 1) throw new ConfigError(`--${name} must be a positive integer, got ${JSON.stringify(text.slice(0, 32))}`);
    apply(options, Number(text));
  }
  const origins = values['allowed-origin'];
  if (Array.isArray(origins)) options.allowedOrigins = origins.flatMap((o: string) => o.split(',')).map((o) => o.trim()).filter((o) => o !== '');
  if (values['trust-proxy'] === true) options.trustProxy = true;
  const keyFile = values['ticket-key-file'];
  const key = typeof keyFile === 'string' ? readFileSync(keyFile, 'utf8').trim() : env.TABSWARM_TICKET_KEY;
  if (key !== undefined && key !== '') options.ticketKey = key;
  const strings = (name: string): string[] => (Array.isArray(values[name]) ? (values[name] as string[]) : []);
  const text = (name: string): string | undefined => (typeof values[name] === 'string' ? values[name] : undefined);
  const cluster = readRedisFlags(text('redis'), text('redis-lease-ms'));
  if (cluster) options.cluster = cluster;
  options.ice = readIceFlags(strings('stun'), strings('turn'), text('turn-secret') ?? env.TURN_SECRET, text('turn-ttl'));
  const rooms = strings('room');
  for (const room of rooms) if (!ROOM_NAME_PATTERN.test(room)) throw new ConfigError(`--room must be 1..64 characters of A-Z a-z 0-9 _ . -, got ${JSON.stringify(room.slice(0, 32))}`);
  if (new Set(rooms).size !== rooms.length) throw new ConfigError('--room names a room twice');
  if (rooms.length > 0) options.rooms = rooms.map((room) => ({ room }));
  const open = text('open-rooms');
  if (open !== undefined && open !== 'true' && open !== 'false') throw new ConfigError(`--open-rooms must be true or false, got ${JSON.stringify(open.slice(0, 32))}`);
  if (open === 'false') options.openRooms = false;
  const roomsFile = text('rooms-file');
  if (roomsFile !== undefined) options.roomsFile = roomsFile;
  const modelFile = text('model-file');
  if (modelFile !== undefined) options.models = [readModelFile(modelFile, options.modelLimits ?? DEFAULT_MODEL_FILE_LIMITS)];
  const token = text('admin-token') ?? env.TABSWARM_ADMIN_TOKEN;
  if (token !== undefined) options.adminToken = checkAdminToken(token);
  const level = values['log-level'] ?? 'info';
  if (!(LOG_LEVELS as readonly unknown[]).includes(level)) throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join('|')}`);
  return { options, logLevel: level as LogLevel };
}

/** `--redis URL` and `--redis-lease-ms N` (renewed three times per lease). */
function readRedisFlags(url: string | undefined, leaseText: string | undefined): ClusterOptions | undefined {
  if (url === undefined) {
    if (leaseText !== undefined) throw new ConfigError('--redis-lease-ms needs --redis');
    return undefined;
  }
  if (!/^rediss?:\/\/\S+$/.test(url)) throw new ConfigError(`--redis must be a redis:// or rediss:// URL, got ${JSON.stringify(url.slice(0, 64))}`);
  if (leaseText === undefined) return { url };
  if (!/^\d{1,9}$/.test(leaseText) || Number(leaseText) < 300) throw new ConfigError(`--redis-lease-ms must be an integer of at least 300, got ${JSON.stringify(leaseText.slice(0, 32))}`);
  const leaseMs = Number(leaseText);
  return { url, leaseMs, renewMs: Math.floor(leaseMs / 3) };
}

/** `--stun`, `--turn`, `--turn-secret` (or TURN_SECRET), `--turn-ttl`: checked here, so a typo is a usage error. */
function readIceFlags(stun: string[], turn: string[], secret: string | undefined, ttlText: string | undefined): IceOptions {
  if (turn.length === 0) {
    if (ttlText !== undefined) throw new ConfigError('--turn-ttl needs --turn');
    checkIceOptions({ stun });
    return { stun };
  }
  if (secret === undefined) throw new ConfigError('--turn needs --turn-secret (or TURN_SECRET): the secret coturn was given as static-auth-secret');
  if (ttlText !== undefined && !/^\d+$/.test(ttlText)) throw new ConfigError(`--turn-ttl must be a whole number of seconds, got ${JSON.stringify(ttlText.slice(0, 32))}`);
  const ttlSeconds = ttlText === undefined ? DEFAULT_TURN_TTL_SECONDS : Number(ttlText);
  const ice = { stun, turn: { urls: turn, secret, ttlSeconds } };
  checkIceOptions(ice);
  return ice;
}
