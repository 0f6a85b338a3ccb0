/**
 * `repotune examples <repo>`: a few training examples as the model sees them, decoded from their token ids, with
 * the parts marked — retrieved context, prefix, ⟦MIDDLE⟧ (the only tokens with loss), suffix — so a human can check
 * what training will teach. Examples are picked round-robin over span kinds, so one screen shows the variety.
 */
import * as path from 'node:path';
import { loadTokenizer, type CodeTokenizer } from '../models/tokenizer';
import { harvest } from '../harvest/harvest';
import { detectFamily, type ModelFamily } from './families';
import { rngFor, shuffle } from './prng';
import { buildExampleSets, type ShardInputFile } from './shards';
import type { TrainingExample } from './trainingExample';

export const DEFAULT_SHOWN_EXAMPLES = 5;
/** Lines of prefix and suffix shown around the middle (the rest is summarised), to keep one example on a screen. */
export const PREFIX_LINES_SHOWN = 10;
export const SUFFIX_LINES_SHOWN = 5;
export const CONTEXT_LINES_SHOWN = 8;

export interface RenderOptions {
  readonly n: number;
  readonly seed: number;
  readonly seqLen: number;
  /** ANSI colours (a terminal); otherwise the ⟦ ⟧ markers alone show the boundaries. */
  readonly color: boolean;
}

const ANSI = { dim: '\x1b[2m', middle: '\x1b[1;30;42m', bold: '\x1b[1m', reset: '\x1b[0m' };

/** Examples spread over span kinds: one of each kind in turn, each kind's order shuffled by the seed. */
export function pickExamples(examples: readonly TrainingExample[], n: number, seed: number): TrainingExample[] {
  const byKind = new Map<string, TrainingExample[]>();
  for (const e of examples) {
    const kind = e.span ?? e.kind;
    if (!byKind.has(kind)) byKind.set(kind, []);
    byKind.get(kind)!.push(e);
  }
  const queues = [...byKind.keys()].sort().map((k) => shuffle([...byKind.get(k)!], rngFor(seed, `show:${k}`)));
  const picked: TrainingExample[] = [];
  while (picked.length < n && queues.some((q) => q.length > 0)) {
    for (const q of queues) if (picked.length < n && q.length > 0) picked.push(q.shift()!);
  }
  return picked;
}

function lastLines(text: string, n: number): string {
  const lines = text.split('\n');
  return lines.length <= n ? text : `… (${lines.length - n} lines above)\n${lines.slice(-n).join('\n')}`;
}
function firstLines(text: string, n: number): string {
  const lines = text.split('\n');
  return lines.length <= n ? text : `${lines.slice(0, n).join('\n')}\n… (${lines.length - n} lines below)`;
}

/** One example, decoded part by part from its ids. */
export function renderExample(tok: CodeTokenizer, family: ModelFamily, e: TrainingExample, color: boolean): string {
  const paint = (style: keyof typeof ANSI, s: string) => (color ? `${ANSI[style]}${s}${ANSI.reset}` : s);
  const header = `${e.path} · ${e.span ?? e.kind} · ${e.ids.length} tokens (${e.mask.filter((m) => m === 1).length} with loss)`;
  if (e.kind === 'continuation') {
    return `${paint('bold', `── ${header}`)}\n⟦CONTINUATION: every token is a target⟧\n${firstLines(tok.decode(e.ids), PREFIX_LINES_SHOWN + SUFFIX_LINES_SHOWN)}`;
  }
  const promptLength = e.mask.indexOf(1);
  const prompt = e.ids.slice(0, promptLength);
  const pre = prompt.indexOf(tok.tokenId(family.fimPrefix)!);
  const suf = prompt.indexOf(tok.tokenId(family.fimSuffix)!);
  const mid = promptLength - 1;
  const [context, prefix, suffix] =
    family.order === 'psm'
      ? [prompt.slice(0, pre), prompt.slice(pre + 1, suf), prompt.slice(suf + 1, mid)]
      : [prompt.slice(0, suf), prompt.slice(pre + 1, mid), prompt.slice(suf + 1, pre)];
  const middle = tok.decode(e.ids.slice(promptLength, -1));
  // Retrieved snippets may not fit the prompt's context share (small seqLen): say so rather than hide it.
  const retrieved = e.contextSnippets ? ` · ${e.contextSnippets} snippet(s) retrieved${context.length === 0 ? ', none fit the context share' : ''}` : '';
  const parts = [paint('bold', `── ${header}${retrieved}`)];
  if (context.length > 0) parts.push(paint('dim', `⟦context⟧${firstLines(tok.decode(context), CONTEXT_LINES_SHOWN)}⟦/context⟧`));
  parts.push(
    `⟦prefix⟧${lastLines(tok.decode(prefix), PREFIX_LINES_SHOWN)}${paint('middle', `⟦MIDDLE⟧${middle}⟦/MIDDLE⟧`)}` +
      `${firstLines(tok.decode(suffix), SUFFIX_LINES_SHOWN)}⟦/suffix⟧`,
  );
  return parts.join('\n');
}

/** Builds the repository's examples exactly as fine-tuning does and renders `n` of them. */
export async function renderRepositoryExamples(
  files: readonly ShardInputFile[],
  tok: CodeTokenizer,
  family: ModelFamily,
  opts: RenderOptions,
): Promise<string> {
  const sets = await buildExampleSets(files, tok, family, { seed: opts.seed, seqLen: opts.seqLen });
  const shown = pickExamples(sets.train, opts.n, opts.seed);
  const kinds = new Map<string, number>();
  for (const e of sets.train) kinds.set(e.span ?? e.kind, (kinds.get(e.span ?? e.kind) ?? 0) + 1);
  const summary = `${sets.train.length} train / ${sets.eval.length} eval examples (seed ${opts.seed}, seqLen ${opts.seqLen}); ` +
    [...kinds].sort().map(([k, c]) => `${k} ${c}`).join(', ');
  return [summary, ...sets.notices.map((n) => `note: ${n}`), ...shown.map((e) => renderExample(tok, family, e, opts.color))].join('\n\n');
}

/** The CLI command: harvest the repository (as fine-tuning does), build its examples, render `n` of them. */
export async function runExamplesCommand(repo: string, modelDir: string, opts: RenderOptions): Promise<string> {
  const tok = loadTokenizer(modelDir);
  const family = detectFamily(tok, path.basename(modelDir));
  const harvested = await harvest(repo, {});
  return renderRepositoryExamples(harvested.files, tok, family, opts);
}
