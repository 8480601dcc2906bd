/**
 * The model files this server serves to tabs: an organiser's own model in tfjs's Layers format,
 * given at start (`--model-file`) or uploaded on the organiser page. Each is checked before it is
 * kept (shared's checkModelFile: schema, layer classes, sizes; ModelFileError otherwise) and named
 * by its content, `model-<16 hex digits of its SHA-256>`: the room key `task` of the rooms that
 * train it. Served at `servedModelUrl(task)` (model.json) and `weights.bin` next to it, to anyone:
 * tabs fetch them before joining; nothing secret is in a model the room trains in the open anyway.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { basename, dirname, join } from 'node:path';
import { checkModelFile, DEFAULT_MODEL_FILE_LIMITS, ModelFileError, servedModelJson, SERVED_WEIGHTS_PATH, type ModelFileLimits } from '@tabswarm/shared/protocol';

/** A checked model file in its served form. */
export interface StoredModel {
  /** The room key `task` naming it. */
  task: string;
  /** model.json as served (one weights file, `weights.bin`). */
  modelJson: string;
  weights: Uint8Array | null;
  layers: number;
  /** Values in its weights; null when it has none. */
  parameters: number | null;
}

/** Uploads kept at most: each may be up to `maxBytes`. */
const MAX_MODELS = 16;

/** Checks a model file and names it by its content. Throws ModelFileError. */
export function prepareModel(modelJson: string, files: ReadonlyMap<string, Uint8Array>, limits: ModelFileLimits): StoredModel {
  const checked = checkModelFile(modelJson, files, limits);
  const served = servedModelJson(checked);
  const hash = createHash('sha256').update(served);
  if (checked.weights) hash.update(checked.weights);
  return { task: `model-${hash.digest('hex').slice(0, 16)}`, modelJson: served, weights: checked.weights, layers: checked.layers, parameters: checked.parameters };
}

/** `--model-file PATH`: model.json and the weights files its manifest names, read from beside it. */
export function readModelFile(path: string, limits: ModelFileLimits): StoredModel {
  const sizeOf = (file: string): number => {
    try {
      return statSync(file).size;
    } catch {
      return -1;
    }
  };
  const jsonSize = sizeOf(path);
  if (jsonSize < 0) throw new ModelFileError(`cannot read the model file ${JSON.stringify(path.slice(0, 200))}`, 'malformed');
  if (jsonSize > limits.maxBytes) throw new ModelFileError(`model.json is ${jsonSize} bytes, over this server's ${limits.maxBytes}`, 'too-large');
  const modelJson = readFileSync(path, 'utf8');
  const files = new Map<string, Uint8Array>();
  let total = jsonSize;
  for (const name of manifestPaths(modelJson)) {
    // Only files beside model.json: a manifest cannot name another folder.
    const file = join(dirname(path), basename(name));
    const size = sizeOf(file);
    if (size < 0 || files.has(basename(name))) continue; // checkModelFile names a missing file
    total += size;
    if (total > limits.maxBytes) throw new ModelFileError(`model.json and its weights are over this server's ${limits.maxBytes} bytes`, 'too-large');
    files.set(basename(name), readFileSync(file));
  }
  return prepareModel(modelJson, files, limits);
}

/** The weights files a model.json names, read leniently: checkModelFile judges the file. */
function manifestPaths(modelJson: string): string[] {
  try {
    const manifest = (JSON.parse(modelJson) as { weightsManifest?: unknown }).weightsManifest;
    if (!Array.isArray(manifest)) return [];
    return manifest.flatMap((group: { paths?: unknown }) => (Array.isArray(group?.paths) ? group.paths.filter((p): p is string => typeof p === 'string') : []));
  } catch {
    return [];
  }
}

export class ModelStore {
  private readonly models = new Map<string, StoredModel>();

  constructor(readonly limits: ModelFileLimits = DEFAULT_MODEL_FILE_LIMITS, initial: readonly StoredModel[] = []) {
    for (const model of initial) this.models.set(model.task, model);
  }

  has(task: string): boolean {
    return this.models.has(task);
  }

  /** Checks and keeps an uploaded model file (the same file again is the same model). Throws ModelFileError. */
  add(modelJson: string, files: ReadonlyMap<string, Uint8Array>): StoredModel {
    const model = prepareModel(modelJson, files, this.limits);
    if (!this.models.has(model.task) && this.models.size >= MAX_MODELS) throw new ModelFileError(`this server holds ${MAX_MODELS} models already`, 'too-large');
    this.models.set(model.task, model);
    return model;
  }

  /** Answers `/models/<task>/model.json` or `.../weights.bin`; false if `path` is not a model's. */
  serve(path: string, res: ServerResponse): boolean {
    const match = /^\/models\/([^/]{1,64})\/(model\.json|weights\.bin)$/.exec(path);
    if (!match) return false;
    const model = this.models.get(match[1]!);
    const body = match[2] === 'model.json' ? model?.modelJson : model?.weights;
    if (body === undefined || body === null) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('no such model on this server\n');
      return true;
    }
    // Named by its content: never changes.
    res.writeHead(200, {
      'Content-Type': match[2] === SERVED_WEIGHTS_PATH ? 'application/octet-stream' : 'application/json; charset=utf-8',
      'Content-Length': typeof body === 'string' ? Buffer.byteLength(body) : body.length,
      'Cache-Control': 'public, max-age=31536000, immutable',
    });
    res.end(body);
    return true;
  }
}
