/**
 * How a server that does not know a room (it restarted) rebuilds it from its members'
 * registrations (`room:rejoin`). The room's real state lives in its members; the server holds no
 * weights and needs none. Pure: no sockets, no clock.
 *
 * Members that trained together share their view (the member list the old server gave them), so
 * registrations are grouped by view. One group: the room goes on as it was. Several (forks: some
 * trained apart), the group most registrants share wins, then the newer epoch, the higher step,
 * the smaller view; the others adopt its state by state transfer, as late joiners do.
 */
import type { RejoinRequest } from '@tabswarm/shared/protocol';

/** One member's registration: who it is, and the room as it trains in it (its `room:rejoin`). */
export type Registration = Omit<RejoinRequest, 'room' | 'name'>;

export interface RebuildDecision {
  epoch: number;
  /** Every registrant, sorted. */
  members: string[];
  /** The configuration of the winning view (its registrant at the highest step). */
  config: Record<string, unknown>;
  /** Registrants whose state lost to the winning view's: they drop it and catch up. */
  adopters: string[];
  /** The winning view (viewKey): a late claimant from another view adopts the room's state too. */
  lineage: string;
  /** What was decided and why, for the server's log. */
  notes: string[];
}

/** A view as one comparable string: its members, sorted, comma-separated. */
export function viewKey(members: readonly string[]): string {
  return [...members].sort().join(',');
}

/**
 * Every id any registrant lists (in its view or among the peers it knew) has registered: no need
 * to wait for the window to end. A fork that split off the room knows the others, so it cannot
 * settle the room alone before they are back.
 */
export function everyoneRegistered(registrations: readonly Registration[]): boolean {
  const registered = new Set(registrations.map((r) => r.peerId));
  return registrations.every((r) => [...r.members, ...(r.known ?? [])].every((id) => registered.has(id)));
}

interface Group {
  key: string;
  registrants: Registration[];
  epoch: number;
  step: number;
}

const short = (id: string): string => id.slice(0, 8);

/** Decides the rebuilt room. Throws on an empty list: a rebuild starts with a registration. */
export function decideRebuild(registrations: readonly Registration[]): RebuildDecision {
  if (registrations.length === 0) throw new Error('a rebuild needs at least one registration');
  const groups = new Map<string, Group>();
  for (const r of registrations) {
    const key = viewKey(r.members);
    const group = groups.get(key) ?? { key, registrants: [], epoch: -1, step: -1 };
    group.registrants.push(r);
    group.epoch = Math.max(group.epoch, r.epoch);
    group.step = Math.max(group.step, r.step);
    groups.set(key, group);
  }
  const ranked = [...groups.values()].sort((a, b) =>
    b.registrants.length - a.registrants.length || b.epoch - a.epoch || b.step - a.step || (a.key < b.key ? -1 : 1));
  const winner = ranked[0]!;
  const members = registrations.map((r) => r.peerId).sort();
  const adopters = ranked.slice(1).flatMap((g) => g.registrants.map((r) => r.peerId)).sort();
  const source = [...winner.registrants].sort((a, b) => b.step - a.step || (a.peerId < b.peerId ? -1 : 1))[0]!;

  // Nothing changed (one view, one epoch, exactly its members back): keep the epoch, so no member
  // aborts the step under way. Anything else is a new membership, numbered above every report.
  const epochs = new Set(registrations.map((r) => r.epoch));
  const unchanged = ranked.length === 1 && epochs.size === 1 && winner.key === viewKey(members);
  const highest = Math.max(...epochs);
  const epoch = unchanged ? highest : highest + 1;

  const notes = [`rebuilt from ${registrations.length} registrations: epoch ${epoch} (${unchanged ? 'kept' : `highest reported ${highest}`}), members ${members.map(short).join(', ')}`];
  const listed = new Set(registrations.flatMap((r) => r.members));
  const missing = [...listed].filter((id) => !members.includes(id)).sort();
  if (missing.length > 0) notes.push(`missing ${missing.map(short).join(', ')}: not registered in time; they may come back as late joiners`);
  if (ranked.length > 1) {
    const describe = (g: Group): string => `{${g.registrants.map((r) => short(r.peerId)).join(', ')}} at step ${g.step} (epoch ${g.epoch})`;
    notes.push(`fork: ${ranked.length} views; ${describe(winner)} wins over ${ranked.slice(1).map(describe).join(', ')}; ${adopters.map(short).join(', ')} adopt its state`);
  }
  return { epoch, members, config: { ...source.config }, adopters, lineage: winner.key, notes };
}
