/**
 * What a member downloads of MNIST, before it has downloaded anything: the volunteer's page says
 * it before asking to join. A member fetches every label and the image file's header, its shard
 * (its share of the training set at this member count) and the evaluation subset, as bytes.
 */
import type { RunConfig } from '../train/config.ts';

const TRAIN_EXAMPLES = 60_000;
const TEST_EXAMPLES = 10_000;
const BYTES_PER_IMAGE = 28 * 28;
/** Both label files and the four IDX headers. */
const LABELS_AND_HEADERS = TRAIN_EXAMPLES + TEST_EXAMPLES + 2 * 16 + 2 * 8;

/**
 * Bytes a member of a room of `members` members (itself included) fetches at its first sync.
 * Multipart answers add part headers (a few percent); a later membership change fetches only
 * the difference of the new shard. A member on its own files (`ownData`) fetches no shard.
 */
export function estimateDownloadBytes(config: Pick<RunConfig, 'evalSize'>, members: number, ownData = false): number {
  const shard = ownData ? 0 : Math.ceil(TRAIN_EXAMPLES / Math.max(1, members));
  const evaluation = Math.min(config.evalSize, TEST_EXAMPLES);
  return (shard + evaluation) * BYTES_PER_IMAGE + LABELS_AND_HEADERS;
}
