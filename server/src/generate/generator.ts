/**
 * Spec → prompt → generation → checks, with bounded retries. Editor-agnostic: the sidecar's request handler and the
 * CLI both call `generateModelCode`; the caller supplies the engine (the served adapted model) and the repository's
 * style examples, and gets the code plus what every attempt did.
 *
 * The prompt is an ordinary fill-in-the-middle prompt from THE prompt builder (buildFimPrompt): prefix = imports,
 * class with the spec as docstring, start of the constructor; suffix = the loss function; context = the
 * repository's own model classes. A failed check (parse, then optionally the smoke test) is put at the top of the
 * next attempt's prefix, so the retry sees what went wrong.
 */
import { buildFimPrompt, type BuiltPrompt, type ContextSnippet, type PromptBudget } from '../examples/promptBuilder';
import type { ModelFamily } from '../examples/families';
import type { CodeTokenizer } from '../models/tokenizer';
import type { GenerateOptions, GenerateResult, StopReason } from '../completion/engine/ortEngine';
import { checkPythonSyntax, type ParseResult } from './parseCheck';
import { runSmokeTest, type SmokeRunResult } from './sandbox';
import { buildSkeleton, MODULE_NAME, prefixWithRetryNote, torchSmokeTest, type Skeleton } from './skeleton';
import type { ModelSpec } from './spec';

/** A whole model class, not a line of ghost text (inline completion stops at 64). */
export const MAX_GENERATION_TOKENS = 768;
/** First try plus retries with the previous error in the prompt. */
export const MAX_GENERATION_ATTEMPTS = 3;
/** Larger than inline completion's budget, with a bigger share for the style examples (cross-file context). */
export const GENERATION_BUDGET: PromptBudget = { maxPromptTokens: 3072, prefixShare: 0.4, suffixShare: 0.1 };
/** Lines of a failed smoke test's output that go into the retry prompt (the traceback's end says what failed). */
const SMOKE_ERROR_LINES = 6;

export interface GenerationEngine {
  generate(promptIds: readonly number[], opts: GenerateOptions): Promise<GenerateResult>;
}

export interface GeneratorDeps {
  readonly engine: GenerationEngine;
  readonly tokenizer: CodeTokenizer;
  readonly family: ModelFamily;
  /** Interpreter for the parse check and the smoke test (the trainer's). */
  readonly python: string;
  readonly trainerDir: string;
  /** The repository's own model classes (repoStyle.findModelClasses). */
  readonly examples?: readonly ContextSnippet[];
  readonly maxAttempts?: number;
  readonly maxNewTokens?: number;
  readonly smokeTimeoutMs?: number;
  /** Streams the code of the attempt under way (called per token, then once with done=true). */
  readonly onCode?: (update: { attempt: number; code: string; done: boolean }) => void;
  readonly signal?: AbortSignal;
}

export interface GenerateRequest {
  readonly spec: ModelSpec;
  /** Run the smoke test after a successful parse. The caller must have the user's explicit confirmation. */
  readonly runSmokeTest: boolean;
  /** Repository-relative path the code is meant for (goes into the prompt as the file's path). */
  readonly targetPath?: string;
}

export interface AttemptReport {
  readonly attempt: number;
  readonly promptIds: readonly number[];
  readonly generatedTokens: number;
  readonly stoppedBy: StopReason;
  readonly code: string;
  readonly parse: ParseResult;
  readonly smoke?: SmokeRunResult;
  /** Why this attempt failed (what the next prompt quotes); undefined when it passed. */
  readonly error?: string;
}

export interface GenerationResult {
  readonly code: string;
  readonly className: string;
  readonly fileName: string;
  /** Every check that ran on the final code passed. */
  readonly ok: boolean;
  readonly cancelled: boolean;
  readonly attempts: readonly AttemptReport[];
  /** The smoke test that was (or would be) run, for the user to read. */
  readonly smokeTest?: string;
}

export function buildGenerationPrompt(
  deps: Pick<GeneratorDeps, 'tokenizer' | 'family' | 'examples'>,
  skeleton: Skeleton,
  opts: { previousError?: string; attempt: number; targetPath?: string },
): BuiltPrompt {
  return buildFimPrompt(
    deps.tokenizer,
    deps.family,
    {
      prefix: prefixWithRetryNote(skeleton.prefix, opts.previousError, opts.attempt),
      suffix: skeleton.suffix,
      path: opts.targetPath ?? skeleton.fileName,
      context: deps.examples ?? [],
    },
    GENERATION_BUDGET,
  );
}

/**
 * The class body ends at the first line in column 0 after the body began (an indented line): the model moved on to
 * the next definition. Output that starts in column 0 is not a body at all; it is kept, so the parse check names
 * what is wrong and the retry quotes it (an empty class would parse and say nothing).
 */
export function cutAtClassEnd(middle: string): { text: string; ended: boolean } {
  const body = /^[ \t]+\S/m.exec(middle);
  if (!body) return { text: middle, ended: false };
  const m = /\n(?=\S)/.exec(middle.slice(body.index));
  return m ? { text: middle.slice(0, body.index + m.index), ended: true } : { text: middle, ended: false };
}

export function assembleCode(skeleton: Skeleton, middle: string): string {
  const body = middle.replace(/\s+$/, '');
  return `${skeleton.prefix}${body ? `${body}\n` : ''}${skeleton.suffix}`;
}

export async function generateModelCode(req: GenerateRequest, deps: GeneratorDeps): Promise<GenerationResult> {
  const skeleton = buildSkeleton(req.spec);
  const smokeTest = req.spec.framework === 'torch' ? torchSmokeTest(req.spec, skeleton.className) : undefined;
  const attempts: AttemptReport[] = [];
  const maxAttempts = deps.maxAttempts ?? MAX_GENERATION_ATTEMPTS;
  let previousError: string | undefined;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const prompt = buildGenerationPrompt(deps, skeleton, { previousError, attempt, targetPath: req.targetPath });
    let middle = '';
    const result = await deps.engine.generate(prompt.ids, {
      maxNewTokens: deps.maxNewTokens ?? MAX_GENERATION_TOKENS,
      stopIds: prompt.stopIds,
      signal: deps.signal,
      onToken: (_id, ids) => {
        const cut = cutAtClassEnd(deps.tokenizer.decode(ids));
        middle = cut.text;
        deps.onCode?.({ attempt, code: skeleton.prefix + middle, done: false });
        return !cut.ended;
      },
    });
    const code = assembleCode(skeleton, middle);
    deps.onCode?.({ attempt, code, done: true });
    if (result.stoppedBy === 'cancelled' || deps.signal?.aborted) {
      return { code, className: skeleton.className, fileName: skeleton.fileName, ok: false, cancelled: true, attempts, smokeTest };
    }
    const report = { attempt, promptIds: prompt.ids, generatedTokens: result.ids.length, stoppedBy: result.stoppedBy, code };
    const parse: ParseResult = middle.trim()
      ? await checkPythonSyntax(deps.python, code)
      : { ok: false, error: 'The model wrote no code for the class body.' };
    let smoke: SmokeRunResult | undefined;
    let error = parse.ok ? undefined : parse.error;
    if (parse.ok && req.runSmokeTest && smokeTest) {
      smoke = await runSmokeTest({
        python: deps.python, trainerDir: deps.trainerDir, timeoutMs: deps.smokeTimeoutMs, signal: deps.signal,
        files: { [`${MODULE_NAME}.py`]: code, 'smoke_test.py': smokeTest },
      });
      if (!smoke.passed) error = `The smoke test failed:\n${smoke.output.trim().split('\n').slice(-SMOKE_ERROR_LINES).join('\n')}`;
    }
    attempts.push({ ...report, parse, smoke, error });
    if (smoke?.cancelled) return { code, className: skeleton.className, fileName: skeleton.fileName, ok: false, cancelled: true, attempts, smokeTest };
    if (!error) return { code, className: skeleton.className, fileName: skeleton.fileName, ok: true, cancelled: false, attempts, smokeTest };
    previousError = error;
  }
  const last = attempts[attempts.length - 1];
  return { code: last.code, className: skeleton.className, fileName: skeleton.fileName, ok: false, cancelled: false, attempts, smokeTest };
}

/** A few lines for people: what each attempt did. */
export function describeAttempts(result: GenerationResult): string {
  const lines = result.attempts.map((a) => {
    const parse = a.parse.ok ? 'parses' : `does not parse: ${a.parse.error}`;
    const smoke = a.smoke ? (a.smoke.passed ? `; smoke test passed (${(a.smoke.durationMs / 1000).toFixed(1)} s)` : `; smoke test FAILED${a.smoke.timedOut ? ' (timeout)' : ''}`) : '';
    return `attempt ${a.attempt}: ${a.generatedTokens} tokens (${a.stoppedBy}), ${parse}${smoke}`;
  });
  const verdict = result.cancelled ? 'cancelled' : result.ok ? 'checks passed' : `checks failed after ${result.attempts.length} attempt(s)`;
  return [...lines, verdict].join('\n');
}
