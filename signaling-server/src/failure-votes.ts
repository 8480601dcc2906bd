/**
 * Who may evict whom. A failed epoch records the members present when it began, who reported it
 * and whom each blamed. A member goes only when, in each of the last few failed epochs, more than
 * half of the other members present then (and still members) blamed it: the count is over the
 * room, not over whoever chose to report, so two hostile sockets in a room of five cannot evict
 * anyone, however often they blame. Pure: no sockets, no clock.
 */

export interface FailedEpoch {
  epoch: number;
  /** The membership when this epoch began. */
  present: ReadonlySet<string>;
  /** Members that reported this epoch failed (each once). */
  reporters: Set<string>;
  /** Suspect -> the reporters who blamed it. */
  votes: Map<string, Set<string>>;
  /** When the first report of it came (ms, the pacing's clock). */
  reportedAt: number;
  /** How the next epoch was scheduled (resync-pacing.ts): after one report alone, or agreed by two. */
  scheduled?: 'alone' | 'agreed';
}

export function failedEpoch(epoch: number, members: Iterable<string>, reportedAt = 0): FailedEpoch {
  return { epoch, present: new Set(members), reporters: new Set(), votes: new Map(), reportedAt };
}

/** Records `reporter`'s vote against `suspect` (a member present then, not itself). */
export function vote(failure: FailedEpoch, reporter: string, suspect: string | undefined): void {
  failure.reporters.add(reporter);
  if (suspect === undefined || suspect === reporter || !failure.present.has(suspect)) return;
  failure.votes.set(suspect, (failure.votes.get(suspect) ?? new Set<string>()).add(reporter));
}

/**
 * More than half of the other members present when each of the last `evictAfter` failed epochs
 * began, and at least two, blamed `suspect` in every one of them. Voters who have left since count
 * against the eviction; with two members nobody is ever evicted.
 */
export function blamedByRoom(failures: readonly FailedEpoch[], suspect: string, current: ReadonlySet<string>, evictAfter: number): boolean {
  if (failures.length < evictAfter) return false;
  return failures.slice(-evictAfter).every((f) => {
    const others = f.present.size - (f.present.has(suspect) ? 1 : 0);
    const voters = [...(f.votes.get(suspect) ?? [])].filter((id) => id !== suspect && f.present.has(id) && current.has(id)).length;
    return voters >= 2 && 2 * voters > others;
  });
}
