/**
 * What the organiser page does, without HTTP: lists every room with its members' last progress,
 * opens organised rooms, removes a member through the eviction path (its tab hears it was the
 * organiser and stays out), and makes each room's invite link (with a join ticket when the server
 * requires them). organise-routes.ts puts it on HTTP behind the admin token.
 */
import { ConfigError, NotInRoomError, SERVED_MODEL_TASK, type OrganiserMember, type OrganiserRoom } from '@tabswarm/shared/protocol';
import type { ModelStore } from './model-store.ts';
import type { RoomSnapshot } from './room-types.ts';
import type { ServerContext } from './connection.ts';
import type { RoomsFile } from './rooms-file.ts';

/** How long an invite's ticket stays valid, from the hour it was made in (so the link, and its QR code, stay the same within the hour). */
const INVITE_HOURS = 48;
const HOUR_MS = 3_600_000;

export class Organiser {
  /** `roomsFile`: where the rooms it opens are kept for the next start (rooms-file.ts). */
  constructor(private readonly context: ServerContext, private readonly models: ModelStore, private readonly roomsFile?: RoomsFile) {}

  /** Every live room, sorted by name; invite links start with `base` (`https://host`). */
  rooms(base: string): OrganiserRoom[] {
    return this.context.registry.all()
      .sort((a, b) => (a.room < b.room ? -1 : a.room > b.room ? 1 : 0))
      .map((room) => this.view(room, base));
  }

  /** Opens `room` as an organised room with these configuration keys (the registry's errors: ConfigError naming a bad key or value, ...). */
  create(room: string, config: Record<string, string>, base: string): OrganiserRoom {
    // A room naming a model file this server does not hold would fail in every tab.
    const task = config.task ?? '';
    if (SERVED_MODEL_TASK.test(task) && !this.models.has(task)) throw new ConfigError(`task ${task} names no model file of this server; upload it first`);
    const snapshot = this.context.registry.organise(room, config);
    this.roomsFile?.add({ room, config: snapshot.config });
    this.context.log.info(`organised room=${room}`, { event: 'organise', room });
    return this.view(snapshot, base);
  }

  /** Evicts `peerId` from `room`: NotInRoomError if it is not a member there. */
  remove(room: string, peerId: string): void {
    const conn = this.context.members.get(peerId);
    if (!conn || !this.context.registry.isMember(room, peerId) || conn.membership?.room !== room) {
      throw new NotInRoomError(`peer ${peerId.slice(0, 64)} is not a member of room ${room.slice(0, 64)}`);
    }
    conn.evict('removed by the organiser', 'organiser');
  }

  /**
   * The link that joins `room`; with the room's `task` when it has one, since a tab picks an
   * example task by its URL before it sees the room (a served model's it would find either way).
   */
  invite(room: string, base: string): string {
    const url = new URL('/', base);
    url.searchParams.set('room', room);
    const task = this.context.registry.snapshot(room)?.config.task;
    if (typeof task === 'string' && task !== '') url.searchParams.set('task', task);
    const tickets = this.context.tickets;
    if (tickets) url.searchParams.set('ticket', tickets.issue(room, (Math.floor(Date.now() / HOUR_MS) + INVITE_HOURS) * HOUR_MS));
    return url.toString();
  }

  private view(room: RoomSnapshot, base: string): OrganiserRoom {
    const now = performance.now();
    const members: OrganiserMember[] = room.members.map((peerId) => {
      const last = this.context.progress.get(peerId);
      return { peerId, progress: last?.report ?? null, reportedAgoMs: last ? Math.round(now - last.at) : null };
    });
    const reports = members.flatMap((m) => (m.progress ? [m.progress] : []));
    const furthest = reports.reduce<(typeof reports)[number] | undefined>((best, r) => (best === undefined || r.step > best.step ? r : best), undefined);
    const rates = reports.flatMap((r) => (r.stepsPerSecond === null ? [] : [r.stepsPerSecond]));
    return {
      room: room.room,
      organised: room.organised === true,
      epoch: room.epoch,
      config: room.config,
      members,
      step: furthest?.step ?? null,
      accuracy: furthest?.accuracy ?? null,
      stepsPerSecond: mean(rates),
      bytesPerStep: mean(reports.map((r) => r.bytesPerStep)),
      invite: this.invite(room.room, base),
    };
  }
}

function mean(values: number[]): number | null {
  return values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
}
