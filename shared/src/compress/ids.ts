/** Stable codec ids of the wire header (uint8). Extend, never renumber. */
export const CODEC_IDS = {
  none: 0,
  fp16: 1,
  randomk: 2,
  topk: 3,
  qsgd: 4,
  'sketch-gaussian': 5,
  'sketch-haar': 6,
  powersgd: 7,
  greedylore: 8,
} as const;
