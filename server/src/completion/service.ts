/**
 * Inline completion, top to bottom: prefilter → cursor windows → cache → adaptive debounce → stable prompt (the
 * prompt builder, anchored so consecutive keystrokes share the KV cache) → engine (OrtEngine on the CPU by default,
 * TorchEngine on a GPU: engine/engine.ts) with stream filters →
 * postprocess → cache. Editor-agnostic: the sidecar's LSP handler and the CLI both call `complete`.
 *
 * Only one generation runs at a time (the engine's KV cache is one sequence). A new request aborts the one in
 * flight, which stops within one token; requests still in their debounce wait or waiting their turn see their
 * abort and return at once, before any model work.
 */
import * as path from 'node:path';
import { DEFAULT_BUDGET, type PromptBudget } from '../examples/promptBuilder';
import type { RetrievalIndex } from '../retrieval/repoIndex';
import { detectFamily, type ModelFamily } from '../examples/families';
import { loadTokenizer, type CodeTokenizer } from '../models/tokenizer';
import { CompletionCache, COMPLETION_CACHE_ENTRIES } from './cache';
import { cursorWindows, DEFAULT_WINDOW_BUDGET, type WindowBudget } from './context';
import type { EngineOptions } from './engine/ortEngine';
import { OrtThreadEngine } from './engine/ortThread';
import type { CompletionEngine, EngineLoader, GenerateResult, ServedModel } from './engine/engine';
import { defaultFilters, runFilters, type FilterVerdict } from './filters';
import { postprocessCompletion } from './postprocess';
import { prefilter, type PrefilterOptions, type SkipReason } from './prefilter';
import { afterTyped, StablePromptBuilder } from './stablePrompt';
import { abortableDelay, debounceDelayMs, observeKeystroke, type TypingRhythm } from './debounce';

/** An engine load that failed for lack of memory (the worker's out_of_memory kind: training/trainerProcess.ts). */
function isOutOfMemory(err: unknown): boolean {
  return (err as { kind?: unknown } | null)?.kind === 'out_of_memory';
}

/** Ghost text is read at a glance: a few lines at most, so few tokens (this also bounds latency). */
export const MAX_NEW_TOKENS = 64;
/** Time cross-file retrieval may take per request: a small share of the keystroke-to-ghost-text latency. */
export const RETRIEVAL_BUDGET_MS = 15;

export interface CompletionServiceOptions extends PrefilterOptions {
  /** Hugging Face model directory: tokenizer.json decides the tokenizer and the FIM family. */
  readonly modelDir: string;
  /** RepoTune ONNX export served by the engine. */
  readonly onnxDir: string;
  /** The adapter merged into that export (TorchEngine serves base + adapter); absent = the base model. */
  readonly adapterDir?: string;
  /** Loads the engine for a model; default OrtEngine on the ONNX export, on its own thread (with `engine` options). */
  readonly loadEngine?: EngineLoader;
  readonly maxNewTokens?: number;
  readonly promptBudget?: PromptBudget;
  readonly windowBudget?: WindowBudget;
  readonly engine?: EngineOptions;
  readonly cacheEntries?: number;
  readonly log?: (message: string) => void;
  /** Repository index for cross-file context (retrieval/repoIndex.ts), built as training builds it; none = off. */
  readonly retrieval?: RetrievalIndex;
  /** Wait about one typing interval before a run while keystrokes come faster than answers (debounce.ts); default on. */
  readonly adaptiveDebounce?: boolean;
}

export interface CompletionRequest {
  readonly text: string;
  readonly offset: number;
  readonly languageId: string;
  readonly path?: string;
}

export interface Completion {
  readonly text: string;
  readonly fromCache: boolean;
}

/** What the last model run did, for logs and benchmarks. */
export interface GenerationStats extends Omit<GenerateResult, 'ids'> {
  readonly promptTokens: number;
  readonly generatedTokens: number;
  readonly filterReason?: string;
}

export class CompletionService {
  private readonly tokenizer: CodeTokenizer;
  private readonly family: ModelFamily;
  private readonly cache: CompletionCache;
  private readonly prompts: StablePromptBuilder;
  private engine: CompletionEngine | undefined;
  /** What `engine` serves: loaded again when a swap that had to free it first fails. */
  private served: ServedModel | undefined;
  /** Tail of the chain that serialises model runs (and model swaps). */
  private turn: Promise<void> = Promise.resolve();
  private inFlight: AbortController | undefined;
  private pending = 0;
  private rhythm: TypingRhythm = {};
  private disposed = false;
  /** Requests that reached the model (not cancelled while debounced or waiting their turn), for logs and tests. */
  modelRuns = 0;
  lastSkipReason: SkipReason | undefined;
  lastStats: GenerationStats | undefined;

  /** Settings that may change while serving (the user toggles completions or a language). */
  private opts: CompletionServiceOptions;

  constructor(opts: CompletionServiceOptions) {
    this.opts = opts;
    this.tokenizer = loadTokenizer(opts.modelDir);
    this.family = detectFamily(this.tokenizer, path.basename(opts.modelDir));
    this.cache = new CompletionCache(opts.cacheEntries ?? COMPLETION_CACHE_ENTRIES);
    this.prompts = new StablePromptBuilder(this.tokenizer, this.family, opts.promptBudget ?? DEFAULT_BUDGET);
  }

  static async create(opts: CompletionServiceOptions): Promise<CompletionService> {
    const service = new CompletionService(opts);
    await service.swapModel(opts.onnxDir, opts.adapterDir);
    return service;
  }

  /** Applies changed settings from the next request on. */
  updateSettings(update: Partial<Pick<CompletionServiceOptions, 'enabled' | 'disabledLanguages' | 'maxFileChars' | 'maxNewTokens'>>): void {
    this.opts = { ...this.opts, ...update };
  }

  /**
   * Installs (or replaces) the repository index for cross-file context. The sidecar builds it in the background
   * after start-up; requests before that are served without context. Cached completions made without it go.
   */
  setRetrieval(index: RetrievalIndex | undefined): void {
    this.opts = { ...this.opts, retrieval: index };
    this.cache.clear();
  }

  /** Requests that have not returned yet (waiting their turn or generating). */
  get pendingRequests(): number {
    return this.pending;
  }

  async complete(req: CompletionRequest, signal?: AbortSignal): Promise<Completion | undefined> {
    this.lastSkipReason = prefilter(req, this.opts);
    if (this.lastSkipReason !== undefined || this.disposed) return undefined;
    const { prefix, suffix } = cursorWindows(req.text, req.offset, this.opts.windowBudget ?? DEFAULT_WINDOW_BUDGET);
    this.rhythm = observeKeystroke(this.rhythm, performance.now(), this.pending > 0);
    // This request supersedes the one in flight (even when the cache answers it); its caller's signal can cancel it too.
    this.inFlight?.abort();
    const scope = `${req.languageId}:${req.path ?? ''}`;
    const hit = this.cache.get(scope, prefix, suffix);
    if (hit !== undefined) return { text: hit.completion, fromCache: true };

    const controller = new AbortController();
    this.inFlight = controller;
    const forwardAbort = () => controller.abort();
    signal?.addEventListener('abort', forwardAbort);
    if (signal?.aborted) controller.abort();
    this.pending++;
    let release: (() => void) | undefined;
    try {
      // A keystroke during the wait cancels this request before any model work.
      const delay = this.opts.adaptiveDebounce === false ? 0 : debounceDelayMs(this.rhythm);
      if (!(await abortableDelay(delay, controller.signal))) return undefined;
      release = await this.takeTurn();
      if (controller.signal.aborted || this.engine === undefined) return undefined;
      this.modelRuns++;
      const text = await this.generate(this.engine, prefix, suffix, req.path, controller.signal);
      if (text === undefined || controller.signal.aborted) return undefined;
      this.cache.set(scope, prefix, suffix, text);
      return { text, fromCache: false };
    } finally {
      release?.();
      this.pending--;
      signal?.removeEventListener('abort', forwardAbort);
      if (this.inFlight === controller) this.inFlight = undefined;
    }
  }

  /** One model run with the stream filters; undefined when cancelled or nothing is worth showing. */
  private async generate(engine: CompletionEngine, prefix: string, suffix: string, filePath: string | undefined, signal: AbortSignal): Promise<string | undefined> {
    // Stable across keystrokes (stablePrompt.ts): the engine prefills only what changed since the last request.
    const prompt = this.prompts.build({ prefix, suffix, path: filePath }, { retrieval: this.opts.retrieval, retrievalBudgetMs: RETRIEVAL_BUDGET_MS });
    const filters = defaultFilters({ prefix, suffix });
    let verdict: FilterVerdict = { stop: false };
    const result = await engine.generate(prompt.ids, {
      maxNewTokens: this.opts.maxNewTokens ?? MAX_NEW_TOKENS,
      stopIds: prompt.stopIds,
      signal,
      onToken: (_id, ids) => {
        verdict = runFilters(filters, afterTyped(this.tokenizer.decode(ids), prompt.pendingText), false);
        return !verdict.stop;
      },
    });
    const { ids, ...stats } = result;
    if (result.stoppedBy === 'cancelled') return undefined;
    const generated = afterTyped(this.tokenizer.decode(ids), prompt.pendingText);
    if (!verdict.stop) verdict = runFilters(filters, generated, true);
    this.lastStats = { ...stats, promptTokens: prompt.ids.length, generatedTokens: ids.length, filterReason: verdict.stop ? verdict.reason : undefined };
    const text = verdict.stop ? verdict.keep : generated;
    return postprocessCompletion(text, suffix);
  }

  /** Waits for every earlier run to finish; the returned function ends this one's turn. */
  private async takeTurn(): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const previous = this.turn;
    this.turn = previous.then(() => mine);
    await previous;
    return release;
  }

  /**
   * Loads another export (e.g. after training) and serves it from the next request on; the old one is freed.
   * `adapterDir` is the adapter that export was made from (what TorchEngine merges); the base model dir stays.
   * The new model loads while the old one still serves. Where the two do not fit together (the load fails with
   * out_of_memory, as a second large model on one GPU does), the old one is freed first — completions pause while
   * the new one loads — and is loaded again if the new one still does not fit, so a failed swap never leaves the
   * user without completions that worked before.
   */
  async swapModel(onnxDir: string, adapterDir?: string): Promise<void> {
    const model: ServedModel = { modelDir: this.opts.modelDir, onnxDir, adapterDir };
    let next: CompletionEngine;
    try {
      next = await this.loadEngine(model);
    } catch (err) {
      if (!isOutOfMemory(err) || this.engine === undefined) throw err;
      this.opts.log?.(`not enough memory to load ${onnxDir} beside the model being served: freeing that one first`);
      return this.swapFreeingFirst(model);
    }
    this.inFlight?.abort();
    const release = await this.takeTurn();
    try {
      const old = this.engine;
      if (this.disposed) {
        await next.dispose();
        return;
      }
      this.engine = next;
      this.served = model;
      this.cache.clear(); // completions of the old model must not outlive it
      await old?.dispose();
      this.opts.log?.(`completion model loaded from ${onnxDir}`);
    } finally {
      release();
    }
  }

  private async swapFreeingFirst(model: ServedModel): Promise<void> {
    this.inFlight?.abort();
    const release = await this.takeTurn();
    try {
      if (this.disposed) return;
      const previous = this.served;
      await this.engine?.dispose();
      this.engine = undefined;
      this.cache.clear();
      try {
        this.engine = await this.loadEngine(model);
        this.served = model;
        this.opts.log?.(`completion model loaded from ${model.onnxDir}`);
      } catch (err) {
        if (previous) {
          this.engine = await this.loadEngine(previous).catch((again: unknown) => {
            this.opts.log?.(`could not load the previous model ${previous.onnxDir} again: ${String(again)}`);
            return undefined;
          });
          this.served = this.engine ? previous : undefined;
        }
        throw err;
      }
    } finally {
      release();
    }
  }

  private loadEngine(model: ServedModel): Promise<CompletionEngine> {
    return (this.opts.loadEngine ?? ((m) => OrtThreadEngine.load(m.onnxDir, this.opts.engine)))(model);
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.inFlight?.abort();
    const release = await this.takeTurn();
    try {
      await this.engine?.dispose();
      this.engine = undefined;
      this.cache.clear();
    } finally {
      release();
    }
  }
}
