/**
 * The results files the docs quote: bench/results/compression.json (raw) and compression.md (tables),
 * both rewritten from the JSON. A run of one backend (`--only`) keeps the other backend's last
 * figures, each with its own date.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { METHOD } from './cases.ts';
import type { BackendResult, CaseResult } from './core.ts';

export const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const JSON_FILE = 'compression.json';
const MD_FILE = 'compression.md';

export interface ResultsFile {
  benchmark: 'compression';
  command: string;
  method: string[];
  /** When the file was last written. */
  updated: string;
  /** Wall time of the `npm run bench` that last wrote the file (build and browser start included). */
  lastRunWallMs: number;
  /** Keyed by tfjs backend: `cpu` (Node), `webgl` (Chromium). */
  backends: Record<string, BackendResult>;
}

const BACKEND_TITLES: Record<string, string> = {
  cpu: 'cpu backend, Node',
  webgl: 'webgl backend, headless Chromium',
};

export async function readResults(dir = RESULTS_DIR): Promise<ResultsFile | null> {
  try {
    return JSON.parse(await readFile(path.join(dir, JSON_FILE), 'utf8')) as ResultsFile;
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return null;
    throw err;
  }
}

/** Merges `results` over the file's current backends and writes both files. */
export async function writeResults(results: BackendResult[], wallMs: number, dir = RESULTS_DIR): Promise<ResultsFile> {
  const previous = await readResults(dir);
  const backends: Record<string, BackendResult> = { ...(previous?.backends ?? {}) };
  for (const r of results) backends[r.backend] = r;
  const file: ResultsFile = {
    benchmark: 'compression',
    command: 'npm run bench',
    method: METHOD.split('\n'),
    updated: new Date().toISOString(),
    lastRunWallMs: Math.round(wallMs),
    backends,
  };
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, JSON_FILE), `${JSON.stringify(file, null, 2)}\n`);
  await writeFile(path.join(dir, MD_FILE), renderMarkdown(file));
  return file;
}

const bytes = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number): string => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const ratio = (n: number): string => (n >= 10 ? n.toFixed(0) : n.toFixed(2));

export function renderTable(result: BackendResult): string {
  const lines = [
    '| codec | bytes/step/peer | ratio to fp32 | median ms | p90 ms | steps | vs none | simulatePeers(4) ms/peer | tensors |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const c of result.cases) {
    const sim = c.simulated ? `${ms(c.simulated.median)} (${c.simulated.n})` : 'skipped';
    lines.push(
      `| ${c.label} | ${bytes(c.bytesPerStep)} | ${ratio(c.ratioToFp32)} | ${ms(c.peer.median)} | ${ms(c.peer.p90)} | ${c.peer.n}${c.capped ? '*' : ''} | ${ratio(c.vsNone)} | ${sim} | ${c.tensorGrowth === 0 ? 'ok' : `+${c.tensorGrowth}`} |`,
    );
  }
  return lines.join('\n');
}

function step0Notes(cases: CaseResult[]): string[] {
  return cases
    .filter((c) => c.config.compressor === 'greedylore' || c.config.ef === 'ef21')
    .flatMap((c) => {
      if (c.config.compressor !== 'greedylore') return [`- ${c.label}: dense first step: ${ms(c.step0.ms)} ms once, ${bytes(c.step0.bytesPerStep)} bytes/peer.`];
      const period = c.config.period;
      const notes = [`- ${c.label}: first refresh (step 0, cold, with first-call effects): ${ms(c.step0.ms)} ms and ${bytes(c.step0.bytesPerStep)} bytes/peer.`];
      // Results written before warm refreshes were timed apart have neither field.
      if (c.refresh) {
        notes.push(
          `- ${c.label}: refresh step (dense all-reduce + the leading directions of every compressed layer, warm-started): median ${ms(c.refresh.median)} ms (${c.refresh.n} refreshes, max ${ms(c.refresh.max)}), every ${period} steps (${ms(c.refresh.median / period)} ms per step amortised).`,
        );
      }
      if (c.vsCase) notes.push(`- ${c.label}: steady step / ${c.vsCase.id}'s in the same rounds: ${ratio(c.vsCase.ratio)} (median over rounds).`);
      return notes;
    });
}

/** How much of the machine other processes took meanwhile (see machine.ts). */
function contention(result: BackendResult): string {
  const others = result.environment.otherProcessesCores;
  if (typeof others !== 'number') return '';
  const cores = result.environment.cores ?? result.environment.hostCores;
  return `; other processes used ${others} of the ${String(cores)} cores meanwhile`;
}

function environmentLine(result: BackendResult): string {
  return Object.entries(result.environment)
    .map(([key, value]) => `${key}: ${String(value)}`)
    .join('; ');
}

export function renderMarkdown(file: ResultsFile): string {
  const out: string[] = [
    '# Compression benchmark',
    '',
    `Written by \`${file.command}\` (bench/run.ts); do not edit by hand. Raw figures, every sample and the machine: \`compression.json\` beside this file.`,
    '',
    '## Method',
    '',
    ...file.method.map((line) => `- ${line}`),
    '',
    'Columns: **median ms / p90 ms** = one peer\'s compress + decompress path per step (see above); **steps** = timed steps (`*`: fewer than asked, the case is slow); **vs none** = median per-round time ratio to `none (fp32)` in the same run; **simulatePeers(4) ms/peer** = cross-check, wall time of a 4-peer simulated step / 4 (timed steps); **tensors** = `ok` when `tf.memory().numTensors` never grew across an `aggregate` call.',
    '',
  ];
  for (const [backend, result] of Object.entries(file.backends)) {
    out.push(
      `## ${BACKEND_TITLES[backend] ?? backend}`,
      '',
      `${result.date}, tfjs ${result.tfjsVersion} on \`${result.backend}\`, ${result.model.parameters.toLocaleString('en-US')} parameters, ${result.peers} peers; ${result.options.warmup} warm-up steps, up to ${result.options.steps} timed steps per case; ran ${(result.durationMs / 1000).toFixed(0)} s${contention(result)}.`,
      '',
      renderTable(result),
      '',
      'Step 0 and refreshes, not in the table:',
      '',
      ...step0Notes(result.cases),
      '',
      `Machine: ${environmentLine(result)}.`,
      '',
    );
    if (result.warnings.length > 0) out.push('Warnings:', '', ...result.warnings.map((w) => `- ${w}`), '');
  }
  return `${out.join('\n').trimEnd()}\n`;
}
