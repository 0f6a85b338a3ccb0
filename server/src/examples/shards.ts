/**
 * The examples stage: harvested files → training shards (docs/architecture.md, "Shards"). Train examples come from
 * 'train' files, eval examples from 'holdout' files only, so evaluation measures code the model has not seen.
 * Deterministic for a seed: per-file PRNG streams, byte-wise path order, a seeded shuffle of the train set.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CodeTokenizer } from '../models/tokenizer';
import type { ModelFamily } from './families';
import { planFileExamples, windowCount, type FimPlan } from './plan';
import { rngFor, shuffle } from './prng';
import { buildContinuationExample, buildFimExample, type TrainingExample } from './trainingExample';

export const SHARD_FORMAT_VERSION = 1;
export const INDEX_FILE = 'index.json';
/** Examples per .jsonl shard: small enough to stream, large enough not to litter the folder. */
export const EXAMPLES_PER_SHARD = 2000;
/** Training examples a small repository is brought up to by drawing more FIM spans per window (see trainingViews). */
export const TARGET_TRAIN_EXAMPLES = 512;
export const MAX_VIEWS_PER_WINDOW = 16;
export const DEFAULT_FIM_RATE = 0.9;
/** Caps memory and disk for huge repositories; the shuffle happens before the cap, so it is a fair sample. */
export const DEFAULT_MAX_TRAIN_EXAMPLES = 100_000;
export const DEFAULT_MAX_EVAL_EXAMPLES = 2_000;
/** Shortest sequence the trainer accepts meaningfully. */
export const MIN_SEQ_LEN = 64;

export interface ShardInputFile {
  readonly path: string;
  readonly text: string;
  readonly split: 'train' | 'holdout';
}

export interface ShardOptions {
  readonly outDir: string;
  readonly seed: number;
  readonly seqLen: number;
  /** Share of windows that become FIM examples; the rest are continuations (default DEFAULT_FIM_RATE). */
  readonly fimRate?: number;
  readonly maxTrainExamples?: number;
  readonly maxEvalExamples?: number;
  readonly signal?: AbortSignal;
}

export interface ShardSummary {
  readonly outDir: string;
  readonly indexPath: string;
  readonly examples: { train: number; eval: number };
  readonly kinds: { fim: number; continuation: number };
  readonly tokens: { train: number; eval: number };
}

export class ShardError extends Error {}

export async function buildShards(
  files: readonly ShardInputFile[],
  tok: CodeTokenizer,
  family: ModelFamily,
  opts: ShardOptions,
): Promise<ShardSummary> {
  if (!Number.isInteger(opts.seqLen) || opts.seqLen < MIN_SEQ_LEN) {
    throw new ShardError(`seqLen must be an integer of at least ${MIN_SEQ_LEN} tokens (got ${opts.seqLen}).`);
  }
  const fimRate = opts.fimRate ?? DEFAULT_FIM_RATE;
  if (!(fimRate >= 0 && fimRate <= 1)) throw new ShardError(`fimRate must be between 0 and 1 (got ${fimRate}).`);

  const ordered = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const views = trainingViews(ordered, opts.seqLen);
  const train: TrainingExample[] = [];
  const evalSet: TrainingExample[] = [];
  for (const file of ordered) {
    if (opts.signal?.aborted) throw new ShardError('Building training examples was cancelled.');
    const holdout = file.split === 'holdout';
    (holdout ? evalSet : train).push(...examplesOfFile(file, tok, family, opts.seed, opts.seqLen, fimRate, holdout ? 1 : views));
    await new Promise<void>((r) => setImmediate(r)); // keep an LSP server responsive between files
  }

  shuffle(train, rngFor(opts.seed, 'shuffle:train'));
  shuffle(evalSet, rngFor(opts.seed, 'shuffle:eval'));
  const trainKept = train.slice(0, opts.maxTrainExamples ?? DEFAULT_MAX_TRAIN_EXAMPLES);
  const evalKept = evalSet.slice(0, opts.maxEvalExamples ?? DEFAULT_MAX_EVAL_EXAMPLES);

  fs.mkdirSync(opts.outDir, { recursive: true });
  removeOldShards(opts.outDir);
  const trainFiles = writeShardFiles(opts.outDir, 'train', trainKept);
  const evalFiles = writeShardFiles(opts.outDir, 'eval', evalKept);
  const index = {
    version: SHARD_FORMAT_VERSION,
    tokenizer: tok.source,
    family: family.id,
    train: trainFiles,
    eval: evalFiles,
    examples: { train: trainKept.length, eval: evalKept.length },
  };
  // The index is written last: its presence means the shards beside it are complete.
  const indexPath = path.join(opts.outDir, INDEX_FILE);
  fs.writeFileSync(indexPath, `${JSON.stringify(index, null, 2)}\n`);

  const all = [...trainKept, ...evalKept];
  return {
    outDir: opts.outDir,
    indexPath,
    examples: index.examples,
    kinds: { fim: all.filter((e) => e.kind === 'fim').length, continuation: all.filter((e) => e.kind === 'continuation').length },
    tokens: { train: countTokens(trainKept), eval: countTokens(evalKept) },
  };
}

/**
 * FIM spans drawn per window of training text: enough that a small repository still gives about
 * TARGET_TRAIN_EXAMPLES examples, at most MAX_VIEWS_PER_WINDOW (beyond that the spans repeat), one for a large one.
 */
export function trainingViews(files: readonly ShardInputFile[], seqLen: number): number {
  const windows = files.filter((f) => f.split !== 'holdout').reduce((n, f) => n + windowCount(f.text, seqLen), 0);
  return Math.max(1, Math.min(MAX_VIEWS_PER_WINDOW, Math.ceil(TARGET_TRAIN_EXAMPLES / Math.max(1, windows))));
}

/** Every example of one file, from its own PRNG stream. */
export function examplesOfFile(
  file: ShardInputFile,
  tok: CodeTokenizer,
  family: ModelFamily,
  seed: number,
  seqLen: number,
  fimRate: number,
  views = 1,
): TrainingExample[] {
  const out: TrainingExample[] = [];
  for (const plan of planFileExamples(file.text, rngFor(seed, file.path), seqLen, fimRate, views)) {
    if (plan.kind === 'fim') {
      const fim =
        buildFimExample(tok, family, { prefix: plan.prefix, suffix: plan.suffix, middle: plan.middle, path: file.path }, seqLen) ??
        firstLineOnly(tok, family, plan, file.path, seqLen);
      if (fim) {
        out.push({ ids: fim.ids, mask: fim.mask, kind: 'fim', path: file.path });
        continue;
      }
      // A middle too long for seqLen: the same text still teaches the model as a continuation.
      const fallback = buildContinuationExample(tok, plan.prefix.slice(-seqLen * 4) + plan.middle, file.path, seqLen);
      if (fallback) out.push(fallback);
    } else {
      const cont = buildContinuationExample(tok, plan.text, file.path, seqLen);
      if (cont) out.push(cont);
    }
  }
  return out;
}

/** A block too long for seqLen shrinks to its first line (the rest moves to the suffix) before giving up on FIM. */
function firstLineOnly(tok: CodeTokenizer, family: ModelFamily, plan: FimPlan, filePath: string, seqLen: number) {
  const cut = plan.middle.indexOf('\n');
  if (cut <= 0) return undefined;
  const input = { prefix: plan.prefix, middle: plan.middle.slice(0, cut), suffix: plan.middle.slice(cut) + plan.suffix, path: filePath };
  return buildFimExample(tok, family, input, seqLen);
}

function writeShardFiles(dir: string, split: 'train' | 'eval', examples: readonly TrainingExample[]): string[] {
  const names: string[] = [];
  for (let i = 0; i * EXAMPLES_PER_SHARD < examples.length; i++) {
    const name = `${split}-${String(i).padStart(5, '0')}.jsonl`;
    const lines = examples
      .slice(i * EXAMPLES_PER_SHARD, (i + 1) * EXAMPLES_PER_SHARD)
      .map((e) => JSON.stringify({ ids: e.ids, mask: e.mask, kind: e.kind, path: e.path }));
    fs.writeFileSync(path.join(dir, name), `${lines.join('\n')}\n`);
    names.push(name);
  }
  return names;
}

/** Shards of an earlier run in the same folder must not be mistaken for this run's. */
function removeOldShards(dir: string): void {
  for (const name of fs.readdirSync(dir)) {
    if (name === INDEX_FILE || /^(train|eval)-\d{5}\.jsonl$/.test(name)) fs.rmSync(path.join(dir, name), { force: true });
  }
}

function countTokens(examples: readonly TrainingExample[]): number {
  return examples.reduce((n, e) => n + e.ids.length, 0);
}
