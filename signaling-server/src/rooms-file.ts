/**
 * The organised rooms made on the organiser page, kept in a JSON file (`--rooms-file PATH`) so that
 * a restarted server opens them again. Only their definitions: the name and the run configuration
 * (whole, so a server started with other defaults does not change a room). Never members, tokens
 * or progress: the tabs re-register those themselves.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { ConfigError, type RunConfig } from '@tabswarm/shared/protocol';

export interface RoomDefinition {
  room: string;
  config: RunConfig;
}

export class RoomsFile {
  constructor(readonly path: string) {}

  /** The rooms kept so far; none if the file does not exist yet. ConfigError for a file that is not ours. */
  read(): RoomDefinition[] {
    if (!existsSync(this.path)) return [];
    let rooms: unknown;
    try {
      rooms = (JSON.parse(readFileSync(this.path, 'utf8')) as { rooms?: unknown }).rooms;
    } catch (err) {
      throw new ConfigError(`--rooms-file ${this.path} is not JSON: ${(err as Error).message.slice(0, 64)}`);
    }
    const valid = Array.isArray(rooms) && rooms.every((r: Partial<RoomDefinition> | null) => typeof r?.room === 'string' && typeof r.config === 'object' && r.config !== null);
    if (!valid) throw new ConfigError(`--rooms-file ${this.path} holds no list of rooms ({ "rooms": [{ "room", "config" }] })`);
    return rooms as RoomDefinition[];
  }

  /** Adds `room`, replacing the file whole (a crash mid-write leaves the old one, not half a file). */
  add(room: RoomDefinition): void {
    const rooms = [...this.read().filter((r) => r.room !== room.room), room];
    const partial = `${this.path}.${process.pid}.tmp`;
    writeFileSync(partial, `${JSON.stringify({ rooms }, null, 2)}\n`);
    renameSync(partial, this.path);
  }
}
