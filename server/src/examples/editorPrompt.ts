/**
 * The prompt of an editor state, with or without retrieved cross-file context: what serving sends to the model
 * (completion/service.ts) and what every FIM training example starts with (shards.ts). One function for both, so
 * the retrieval query, the snippets and their order cannot drift apart; test/unit/promptParity.test.ts checks it.
 */
import type { CodeTokenizer } from '../models/tokenizer';
import type { ModelFamily } from './families';
import { buildFimPrompt, DEFAULT_BUDGET, type BuiltPrompt, type ContextSnippet, type PromptBudget } from './promptBuilder';
import { contextSnippets, DEFAULT_CONTEXT_SNIPPETS, type RetrievalIndex } from '../retrieval/repoIndex';

export interface EditorState {
  readonly prefix: string;
  readonly suffix: string;
  /** Repository-relative path of the file being edited. */
  readonly path?: string;
}

export interface EditorPromptOptions {
  readonly budget?: PromptBudget;
  /** Repository index to retrieve context from; none = no cross-file context. */
  readonly retrieval?: RetrievalIndex;
  /** Time the retrieval may take (serving: a few ms; training: Infinity, so examples stay deterministic). */
  readonly retrievalBudgetMs?: number;
  readonly snippets?: number;
}

export interface EditorPrompt extends BuiltPrompt {
  readonly context: readonly ContextSnippet[];
}

export function editorContext(state: EditorState, opts: EditorPromptOptions): ContextSnippet[] {
  if (!opts.retrieval) return [];
  return contextSnippets(opts.retrieval, { path: state.path, prefix: state.prefix }, opts.snippets ?? DEFAULT_CONTEXT_SNIPPETS, opts.retrievalBudgetMs ?? Infinity);
}

export function buildEditorPrompt(tok: CodeTokenizer, family: ModelFamily, state: EditorState, opts: EditorPromptOptions = {}): EditorPrompt {
  const context = editorContext(state, opts);
  return { ...buildFimPrompt(tok, family, { ...state, context }, opts.budget ?? DEFAULT_BUDGET), context };
}
