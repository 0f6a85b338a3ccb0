/**
 * Cross-file context: the repository's files cut into chunks of whole lines, a BM25 index over them, and the one
 * function (`contextSnippets`) that turns an editor state into retrieved snippets. Training (examples/shards.ts)
 * and serving (completion/service.ts) both call it, so the context a model is trained with is the context it is
 * served with. The training index holds train files only: holdout code never reaches a training shard, not even as
 * context.
 */
import type { ContextSnippet } from '../examples/promptBuilder';
import { Bm25Index, codeTerms } from './bm25';

/** Lines per chunk: about a function's worth, small enough that a snippet fits a prompt's context share. */
export const CHUNK_LINES = 12;
/** Chunks longer than this are cut (minified or data lines would crowd out everything else). */
export const MAX_CHUNK_CHARS = 600;
/** The query is the code just before the cursor: the lines that say what is being written. */
export const QUERY_LINES = 12;
/** Snippets per prompt; the prompt builder drops the least relevant when they do not fit its context share. */
export const DEFAULT_CONTEXT_SNIPPETS = 3;
/** Files above this size are data or generated; they are not worth indexing. */
export const MAX_INDEXED_FILE_CHARS = 256 * 1024;

export interface IndexedFile {
  readonly path: string;
  readonly text: string;
}

export interface Chunk {
  readonly path: string;
  readonly text: string;
  /** 0-based first line of the chunk in its file. */
  readonly line: number;
}

export interface RetrievalIndex {
  readonly chunks: readonly Chunk[];
  readonly bm25: Bm25Index;
}

export interface RetrievedChunk extends Chunk {
  readonly score: number;
}

export interface RetrieveOptions {
  /** Chunks of this path are never returned (the file being completed is already in the prompt). */
  readonly excludePath?: string;
}

/** Cuts a file into chunks of CHUNK_LINES lines; blank chunks are left out. */
export function chunkFile(file: IndexedFile): Chunk[] {
  const lines = file.text.split('\n');
  const chunks: Chunk[] = [];
  for (let line = 0; line < lines.length; line += CHUNK_LINES) {
    const text = lines.slice(line, line + CHUNK_LINES).join('\n').slice(0, MAX_CHUNK_CHARS).trimEnd();
    if (text.trim() !== '') chunks.push({ path: file.path, text, line });
  }
  return chunks;
}

/** Indexes files in byte-wise path order, so the same files give the same index whatever order they come in. */
export function buildRetrievalIndex(files: readonly IndexedFile[]): RetrievalIndex {
  const ordered = files.filter((f) => f.text.length <= MAX_INDEXED_FILE_CHARS).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const chunks: Chunk[] = [];
  const bm25 = new Bm25Index();
  for (const file of ordered) {
    for (const chunk of chunkFile(file)) {
      chunks.push(chunk);
      bm25.add(codeTerms(chunk.text));
    }
  }
  return { chunks, bm25 };
}

/**
 * The `k` chunks most similar to the query text, best first. `budgetMs` bounds the search time (serving passes a
 * few milliseconds; training passes Infinity so examples stay deterministic).
 */
export function retrieve(index: RetrievalIndex, query: string, k: number, budgetMs: number, opts: RetrieveOptions = {}): RetrievedChunk[] {
  const deadline = performance.now() + budgetMs;
  const accept = opts.excludePath === undefined ? () => true : (doc: number) => index.chunks[doc].path !== opts.excludePath;
  return index.bm25.search(codeTerms(query), k, accept, deadline).map((h) => ({ ...index.chunks[h.doc], score: h.score }));
}

/** The query of an editor state: the last QUERY_LINES lines before the cursor. */
export function queryOf(prefix: string): string {
  let start = prefix.length;
  for (let n = 0; n < QUERY_LINES; n++) {
    const newline = prefix.lastIndexOf('\n', start - 1);
    if (newline < 0) return prefix;
    start = newline;
  }
  return prefix.slice(start + 1);
}

export interface ContextRequest {
  readonly path?: string;
  readonly prefix: string;
}

/** Retrieved snippets for a prompt, most relevant LAST (nearest the cursor), as the prompt builder expects. */
export function contextSnippets(index: RetrievalIndex, req: ContextRequest, k = DEFAULT_CONTEXT_SNIPPETS, budgetMs = Infinity): ContextSnippet[] {
  return retrieve(index, queryOf(req.prefix), k, budgetMs, { excludePath: req.path })
    .reverse()
    .map((c) => ({ path: c.path, text: c.text }));
}
