/**
 * The examples stage: harvested files → training shards (docs/architecture.md, "Shards"). Train examples come from
 * 'train' files, eval examples from 'holdout' files only, so evaluation measures code the model has not seen.
 * Files with a tree-sitter grammar add syntax spans and docstring → body examples; a share of FIM prompts carries
 * cross-file context retrieved exactly as serving retrieves it, from an index of the TRAIN files only (holdout code
 * never reaches a training shard, not even as context).
 * Deterministic for a seed: per-file PRNG streams, byte-wise path order, a seeded shuffle of the train set.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CodeTokenizer } from '../models/tokenizer';
import type { ModelFamily } from './families';
import { DEFAULT_SPAN_RATES, planFileExamples, windowCount, type FileSyntax, type FimPlan, type SpanRates } from './plan';
import { rngFor, shuffle } from './prng';
import { buildContinuationExample, buildFimExample, type TrainingExample } from './trainingExample';
import { parseFile } from '../syntax/grammars';
import { docBodyTargets, syntaxSpans } from '../syntax/spans';
import { buildRetrievalIndex, type RetrievalIndex } from '../retrieval/repoIndex';
import { editorContext } from './editorPrompt';
import type { ContextSnippet } from './promptBuilder';

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
/**
 * Share of FIM examples whose prompt carries retrieved cross-file context. Not all: serving runs without context
 * when retrieval is off, finds nothing or runs out of time, and the model must do well both ways.
 */
export const DEFAULT_CONTEXT_RATE = 0.5;

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
  /** Relative weights of FIM span kinds (default DEFAULT_SPAN_RATES; syntax kinds apply where a grammar exists). */
  readonly spanRates?: SpanRates;
  /** Probability that a documented function/class yields a docstring → body example (default 1). */
  readonly docRate?: number;
  /** Share of FIM examples with retrieved cross-file context in the prompt (default DEFAULT_CONTEXT_RATE). */
  readonly contextRate?: number;
}

export interface ShardSummary {
  readonly outDir: string;
  readonly indexPath: string;
  readonly examples: { train: number; eval: number };
  readonly kinds: { fim: number; continuation: number };
  /** Examples per span kind (plan.ts FimSpanKind) and how many prompts carry retrieved context. */
  readonly spans: Readonly<Record<string, number>>;
  readonly withContext: number;
  readonly tokens: { train: number; eval: number };
  /** Things the user should know (e.g. syntax spans unavailable). */
  readonly notices: readonly string[];
}

export interface ExampleSets {
  readonly train: TrainingExample[];
  readonly eval: TrainingExample[];
  readonly notices: string[];
}

export class ShardError extends Error {}

export async function buildShards(
  files: readonly ShardInputFile[],
  tok: CodeTokenizer,
  family: ModelFamily,
  opts: ShardOptions,
): Promise<ShardSummary> {
  const { train, eval: evalSet, notices } = await buildExampleSets(files, tok, family, opts);
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
  const spans: Record<string, number> = {};
  for (const e of all) spans[e.span ?? e.kind] = (spans[e.span ?? e.kind] ?? 0) + 1;
  return {
    outDir: opts.outDir,
    indexPath,
    examples: index.examples,
    kinds: { fim: all.filter((e) => e.kind === 'fim').length, continuation: all.filter((e) => e.kind === 'continuation').length },
    spans,
    withContext: all.filter((e) => (e.contextSnippets ?? 0) > 0).length,
    tokens: { train: countTokens(trainKept), eval: countTokens(evalKept) },
    notices,
  };
}

/** Every train and eval example, in path order (not shuffled, not capped): what buildShards writes, and what the CLI shows. */
export async function buildExampleSets(
  files: readonly ShardInputFile[],
  tok: CodeTokenizer,
  family: ModelFamily,
  opts: Omit<ShardOptions, 'outDir'>,
): Promise<ExampleSets> {
  if (!Number.isInteger(opts.seqLen) || opts.seqLen < MIN_SEQ_LEN) {
    throw new ShardError(`seqLen must be an integer of at least ${MIN_SEQ_LEN} tokens (got ${opts.seqLen}).`);
  }
  const fimRate = opts.fimRate ?? DEFAULT_FIM_RATE;
  const contextRate = opts.contextRate ?? DEFAULT_CONTEXT_RATE;
  for (const [name, rate] of [['fimRate', fimRate], ['contextRate', contextRate], ['docRate', opts.docRate ?? 1]] as const) {
    if (!(rate >= 0 && rate <= 1)) throw new ShardError(`${name} must be between 0 and 1 (got ${rate}).`);
  }
  const spanRates = opts.spanRates ?? DEFAULT_SPAN_RATES;
  if (Object.values(spanRates).some((r) => !(r >= 0)) || Object.values(spanRates).every((r) => r === 0)) {
    throw new ShardError('spanRates must be non-negative weights, not all zero.');
  }

  const ordered = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const views = trainingViews(ordered, opts.seqLen);
  // Train files only: a holdout file must not leak into training prompts as retrieved context.
  const retrieval = contextRate > 0 ? buildRetrievalIndex(ordered.filter((f) => f.split !== 'holdout')) : undefined;
  const train: TrainingExample[] = [];
  const evalSet: TrainingExample[] = [];
  const notices: string[] = [];
  for (const file of ordered) {
    if (opts.signal?.aborted) throw new ShardError('Building training examples was cancelled.');
    const holdout = file.split === 'holdout';
    const syntax = await fileSyntax(file, notices);
    const fileOpts: FileExampleOptions = { syntax, spanRates, docRate: opts.docRate, retrieval, contextRate };
    (holdout ? evalSet : train).push(...examplesOfFile(file, tok, family, opts.seed, opts.seqLen, fimRate, holdout ? 1 : views, fileOpts));
    await new Promise<void>((r) => setImmediate(r)); // keep an LSP server responsive between files
  }
  return { train, eval: evalSet, notices };
}

/** Syntax spans and docstring targets of a file; empty when its language has no grammar or the grammar fails. */
async function fileSyntax(file: ShardInputFile, notices: string[]): Promise<FileSyntax | undefined> {
  let parsed;
  try {
    parsed = await parseFile(file.path, file.text);
  } catch (err) {
    const notice = `syntax-aware examples unavailable, using line spans: ${(err as Error).message}`;
    if (!notices.includes(notice)) notices.push(notice);
    return undefined;
  }
  if (!parsed) return undefined;
  try {
    return { spans: syntaxSpans(parsed, file.text), docTargets: docBodyTargets(parsed, file.text) };
  } finally {
    parsed.tree.delete();
  }
}

/**
 * FIM spans drawn per window of training text: enough that a small repository still gives about
 * TARGET_TRAIN_EXAMPLES examples, at most MAX_VIEWS_PER_WINDOW (beyond that the spans repeat), one for a large one.
 */
export function trainingViews(files: readonly ShardInputFile[], seqLen: number): number {
  const windows = files.filter((f) => f.split !== 'holdout').reduce((n, f) => n + windowCount(f.text, seqLen), 0);
  return Math.max(1, Math.min(MAX_VIEWS_PER_WINDOW, Math.ceil(TARGET_TRAIN_EXAMPLES / Math.max(1, windows))));
}

export interface FileExampleOptions {
  readonly syntax?: FileSyntax;
  readonly spanRates?: SpanRates;
  readonly docRate?: number;
  /** Index to retrieve cross-file context from; none = prompts without context. */
  readonly retrieval?: RetrievalIndex;
  readonly contextRate?: number;
}

/** Every example of one file, from its own PRNG streams (one for spans, one for the context draw). */
export function examplesOfFile(
  file: ShardInputFile,
  tok: CodeTokenizer,
  family: ModelFamily,
  seed: number,
  seqLen: number,
  fimRate: number,
  views = 1,
  fileOpts: FileExampleOptions = {},
): TrainingExample[] {
  const out: TrainingExample[] = [];
  const contextRng = rngFor(seed, `context:${file.path}`);
  const plans = planFileExamples(file.text, rngFor(seed, file.path), seqLen, fimRate, views, fileOpts);
  for (const plan of plans) {
    if (plan.kind === 'fim') {
      // The retrieval serving does (examples/editorPrompt.ts), with the same query: the code before the middle.
      const withContext = fileOpts.retrieval !== undefined && contextRng() < (fileOpts.contextRate ?? DEFAULT_CONTEXT_RATE);
      const state = { prefix: plan.prefix, suffix: plan.suffix, path: file.path };
      const context = withContext ? editorContext(state, { retrieval: fileOpts.retrieval }) : [];
      let fim = buildFimExample(tok, family, { ...state, middle: plan.middle, context }, seqLen);
      let middleRange: [number, number] = [plan.start, plan.end];
      let span = plan.span;
      if (!fim && plan.span === 'block') {
        fim = firstLineOnly(tok, family, plan, file.path, seqLen, context);
        middleRange = [plan.start, plan.start + plan.middle.indexOf('\n')];
        span = 'line';
      }
      if (fim) {
        out.push({ ids: fim.ids, mask: fim.mask, kind: 'fim', path: file.path, span, contextSnippets: context.length, middleRange });
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
function firstLineOnly(tok: CodeTokenizer, family: ModelFamily, plan: FimPlan, filePath: string, seqLen: number, context: readonly ContextSnippet[]) {
  const cut = plan.middle.indexOf('\n');
  if (cut <= 0) return undefined;
  const input = { prefix: plan.prefix, middle: plan.middle.slice(0, cut), suffix: plan.middle.slice(cut) + plan.suffix, path: filePath, context };
  return buildFimExample(tok, family, input, seqLen);
}

function writeShardFiles(dir: string, split: 'train' | 'eval', examples: readonly TrainingExample[]): string[] {
  const names: string[] = [];
  for (let i = 0; i * EXAMPLES_PER_SHARD < examples.length; i++) {
    const name = `${split}-${String(i).padStart(5, '0')}.jsonl`;
    const lines = examples
      .slice(i * EXAMPLES_PER_SHARD, (i + 1) * EXAMPLES_PER_SHARD)
      .map((e) => JSON.stringify({ ids: e.ids, mask: e.mask, kind: e.kind, path: e.path, ...(e.span ? { span: e.span } : {}) }));
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
