/**
 * Turns planned text into token sequences. A FIM example is exactly the serving prompt (buildFimPrompt, the one
 * prompt builder) followed by the middle and the end-of-middle token; only the middle and that end token are
 * targets, so the model learns to write the middle and to stop, never to predict the user's surrounding code.
 */
import type { CodeTokenizer } from '../models/tokenizer';
import type { ModelFamily } from './families';
import { buildFimPrompt, DEFAULT_BUDGET, type PromptBudget, type PromptInput } from './promptBuilder';

/** A middle may use at most this share of a sequence; longer ones leave too little prompt to learn from. */
export const MAX_MIDDLE_SHARE = 0.5;
/** FIM examples whose prompt budget would fall below this are not worth training on. */
export const MIN_PROMPT_TOKENS = 16;

export type ExampleKind = 'fim' | 'continuation';

/** One line of a shard (docs/architecture.md, "Shards"). */
export interface TrainingExample {
  readonly ids: number[];
  readonly mask: (0 | 1)[];
  readonly kind: ExampleKind;
  readonly path: string;
  /** How the middle was chosen (plan.ts FimSpanKind); for inspection and statistics, ignored by the trainer. */
  readonly span?: string;
  /** Retrieved snippets offered to the prompt builder (it drops those that do not fit the context share). */
  readonly contextSnippets?: number;
  /** FIM: the middle's [start, end) offsets in the file (the editor state is the file without them). */
  readonly middleRange?: readonly [number, number];
}

export interface FimExampleInput extends PromptInput {
  readonly middle: string;
}

/** The prompt budget of a FIM training example: whatever the middle and end token leave of the sequence. */
export function trainingPromptBudget(seqLen: number, middleTokens: number): PromptBudget {
  return { ...DEFAULT_BUDGET, maxPromptTokens: Math.min(DEFAULT_BUDGET.maxPromptTokens, seqLen - middleTokens - 1) };
}

/** Undefined when the middle is empty or too long for seqLen. */
export function buildFimExample(
  tok: CodeTokenizer,
  family: ModelFamily,
  input: FimExampleInput,
  seqLen: number,
): (TrainingExample & { promptLength: number }) | undefined {
  const middleIds = tok.encode(input.middle);
  if (middleIds.length === 0 || middleIds.length > Math.floor(seqLen * MAX_MIDDLE_SHARE)) return undefined;
  const budget = trainingPromptBudget(seqLen, middleIds.length);
  if (budget.maxPromptTokens < MIN_PROMPT_TOKENS) return undefined;
  const prompt = buildFimPrompt(tok, family, input, budget);
  const ids = [...prompt.ids, ...middleIds, prompt.endOfMiddleId];
  const mask: (0 | 1)[] = ids.map((_, i) => (i < prompt.ids.length ? 0 : 1));
  return { ids, mask, kind: 'fim', path: input.path ?? '', promptLength: prompt.ids.length };
}

/** Plain next-token prediction on a chunk of code, every token a target. Undefined for blank text. */
export function buildContinuationExample(tok: CodeTokenizer, text: string, filePath: string, seqLen: number): TrainingExample | undefined {
  const ids = tok.encode(text).slice(0, seqLen);
  // One token gives the trainer nothing to predict after the label shift.
  if (ids.length < 2) return undefined;
  return { ids, mask: ids.map(() => 1 as const), kind: 'continuation', path: filePath };
}
