/**
 * BM25 over code chunks, hand-written rather than taken from a search library (MiniSearch, wink-bm25) because
 * serving needs an *anytime* search: query terms are scored rarest first and the deadline is checked between
 * terms, so a search cut short by its time budget still ranks by the most informative terms. Everything is
 * deterministic: terms in a fixed order, ties broken by chunk number.
 */

/** Standard BM25 parameters (Robertson & Zaragoza). */
export const BM25_K1 = 1.2;
export const BM25_B = 0.75;
/** Query terms beyond this many (the most common ones) add time, not ranking quality. */
export const MAX_QUERY_TERMS = 64;
/** Identifier parts shorter than this (i, x, of) match everything and rank nothing. */
const MIN_TERM_CHARS = 2;
/** Words in every file of a language; they would only add noise and time. */
const STOP_TERMS = new Set([
  'the', 'and', 'for', 'if', 'else', 'return', 'def', 'self', 'this', 'const', 'let', 'var', 'function', 'import',
  'from', 'export', 'class', 'new', 'in', 'is', 'not', 'none', 'null', 'true', 'false', 'fn', 'pub', 'func', 'package',
  'to', 'of', 'or', 'as', 'with', 'public', 'private', 'static', 'void', 'int', 'string', 'number', 'type',
]);

/** Search terms of code: identifiers, their lower-cased camelCase/snake_case parts and the whole identifier. */
export function codeTerms(text: string): string[] {
  const terms: string[] = [];
  for (const ident of text.match(/[\p{L}_$][\p{L}\p{N}_$]*/gu) ?? []) {
    const whole = ident.toLowerCase();
    const parts = ident.split(/[_$]+|(?<=\p{Ll})(?=\p{Lu})|(?<=\p{Lu})(?=\p{Lu}\p{Ll})/u).map((p) => p.toLowerCase());
    for (const t of parts.length > 1 ? [whole, ...parts] : [whole]) {
      if (t.length >= MIN_TERM_CHARS && !STOP_TERMS.has(t)) terms.push(t);
    }
  }
  return terms;
}

export interface Bm25Hit {
  readonly doc: number;
  readonly score: number;
}

export class Bm25Index {
  private readonly postings = new Map<string, { docs: number[]; tfs: number[] }>();
  private readonly docLengths: number[] = [];
  private totalLength = 0;

  /** Adds a document; documents are numbered 0, 1, … in the order added. */
  add(terms: readonly string[]): number {
    const doc = this.docLengths.length;
    const counts = new Map<string, number>();
    for (const t of terms) counts.set(t, (counts.get(t) ?? 0) + 1);
    for (const [t, tf] of counts) {
      let list = this.postings.get(t);
      if (!list) this.postings.set(t, (list = { docs: [], tfs: [] }));
      list.docs.push(doc);
      list.tfs.push(tf);
    }
    this.docLengths.push(terms.length);
    this.totalLength += terms.length;
    return doc;
  }

  get size(): number {
    return this.docLengths.length;
  }

  /**
   * The `k` best documents for the query terms, best first. `accept` filters documents (e.g. the query's own file);
   * `deadline` (a performance.now() time) stops scoring between two terms.
   */
  search(queryTerms: readonly string[], k: number, accept: (doc: number) => boolean, deadline = Infinity): Bm25Hit[] {
    const n = this.docLengths.length;
    if (n === 0 || k <= 0) return [];
    const avgdl = this.totalLength / n || 1;
    const unique = [...new Set(queryTerms)].filter((t) => this.postings.has(t));
    // Rarest (most informative) terms first, then alphabetical, so a cut-off search keeps the best evidence.
    unique.sort((a, b) => this.postings.get(a)!.docs.length - this.postings.get(b)!.docs.length || (a < b ? -1 : a > b ? 1 : 0));
    const scores = new Map<number, number>();
    for (const term of unique.slice(0, MAX_QUERY_TERMS)) {
      if (performance.now() > deadline) break;
      const { docs, tfs } = this.postings.get(term)!;
      const idf = Math.log(1 + (n - docs.length + 0.5) / (docs.length + 0.5));
      for (let i = 0; i < docs.length; i++) {
        const doc = docs[i];
        if (!accept(doc)) continue;
        const tf = tfs[i];
        const norm = tf + BM25_K1 * (1 - BM25_B + (BM25_B * this.docLengths[doc]) / avgdl);
        scores.set(doc, (scores.get(doc) ?? 0) + (idf * tf * (BM25_K1 + 1)) / norm);
      }
    }
    return [...scores]
      .map(([doc, score]) => ({ doc, score }))
      .sort((a, b) => b.score - a.score || a.doc - b.doc)
      .slice(0, k);
  }
}
