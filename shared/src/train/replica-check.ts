/**
 * The periodic replica check: every `checkEvery` steps the members all-gather their weight
 * hashes. Replicas apply identical bits, so a mismatch is a bug or a fault, never expected; the
 * session reports it and asks for a new epoch, whose sync adopts the majority's state.
 */
import type { Collective } from '../collective/collective.ts';

/** Collective tag of the replica check (the compressors use small tags). */
export const TAG_REPLICA_CHECK = 100;

/**
 * Gathers every member's weights hash through `collective`; returns a description of the
 * members whose hash differs from `ownHash`, or null when all agree. `members` sorted, as ranked.
 */
export async function findDivergence(collective: Collective, members: readonly string[], ownHash: string): Promise<string | null> {
  const blobs = await collective.allGather(new TextEncoder().encode(ownHash), TAG_REPLICA_CHECK);
  const hashes = blobs.map((b) => new TextDecoder().decode(b));
  const differing = members.filter((_, r) => hashes[r] !== ownHash);
  if (differing.length === 0) return null;
  const listed = differing.map((id) => `${id.slice(0, 8)}=${hashes[members.indexOf(id)]}`).join(', ');
  return `weights differ at step ${collective.step}: ${listed} vs ours ${ownHash}`;
}
