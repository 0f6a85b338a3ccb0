/**
 * One pass over a text that finds every occurrence of a fixed set of ASCII keywords, case-insensitively (an
 * Aho–Corasick automaton over lower-cased ASCII). Secret rules use it as a gate: a rule's regular expression runs
 * only when the text holds one of the rule's keywords — as gitleaks does with its per-rule keywords — and rules
 * anchored on a keyword run only where it occurs. Measured on 189 MiB of source (bench/harvest.mjs): one keyword
 * regex per rule cost ~110 ms each and a combined alternation ~900 ms, while this automaton is one table lookup per
 * character.
 *
 * Hand-written rather than an npm Aho–Corasick package: those return an array of match objects per text, and this
 * sits on the harvest's hot path, where only a flat list of (keyword, end) pairs is wanted.
 */

/** Characters outside ASCII never take part in a keyword (ASCII-only case folding, as non-unicode `/i` does). */
const ALPHABET = 128;
const ALPHABET_BITS = 7;
/** ASCII lower-casing as a table. */
const LOWER = Uint8Array.from({ length: ALPHABET }, (_, c) => (c >= 65 && c <= 90 ? c | 0x20 : c));

export interface KeywordHits {
  /** Whether `keyword` occurs at least once. Throws for a word the scanner was not built with: a gate on it would be wrong. */
  has(keyword: string): boolean;
  /** End offsets (exclusive) of every occurrence of `keyword`, ascending. */
  ends(keyword: string): readonly number[];
  /** End offsets of every occurrence of any of `keywords`, ascending, each offset once. */
  endsOfAny(keywords: readonly string[]): readonly number[];
}

export class KeywordScanner {
  /** goto[state * ALPHABET + char] → next state, failure transitions already folded in. */
  private readonly next: Int32Array;
  /** Per state: the keywords that end there (its own and, through failure links, its suffixes'), or undefined. */
  private readonly outputs: (readonly number[] | undefined)[];
  private readonly ids: ReadonlyMap<string, number>;
  /** 1 where `outputs` has an entry: the hot loop tests a byte, not an array slot. */
  private readonly hasOutput: Uint8Array;

  constructor(readonly keywords: readonly string[]) {
    for (const k of keywords) {
      if (k.length === 0 || k !== k.toLowerCase() || [...k].some((ch) => ch.charCodeAt(0) >= ALPHABET)) {
        throw new Error(`keyword ${JSON.stringify(k)} must be non-empty lower-case ASCII`);
      }
    }
    this.ids = new Map(keywords.map((k, id) => [k, id]));
    const trie: number[][] = [[]];
    const own: number[][] = [[]];
    keywords.forEach((word, id) => {
      let s = 0;
      for (const ch of word) {
        const c = ch.charCodeAt(0);
        if (trie[s][c] === undefined) {
          trie[s][c] = trie.length;
          trie.push([]);
          own.push([]);
        }
        s = trie[s][c];
      }
      own[s].push(id);
    });
    const n = trie.length;
    this.next = new Int32Array(n * ALPHABET);
    const fail = new Int32Array(n);
    const out: number[][] = own.map((o) => [...o]);
    // Breadth-first, so a state's failure target is complete before the state itself.
    const queue: number[] = [];
    for (let c = 0; c < ALPHABET; c++) {
      const t = trie[0][c];
      if (t !== undefined) {
        this.next[c] = t;
        queue.push(t);
      }
    }
    for (let qi = 0; qi < queue.length; qi++) {
      const s = queue[qi];
      out[s].push(...out[fail[s]]);
      for (let c = 0; c < ALPHABET; c++) {
        const t = trie[s][c];
        if (t === undefined) {
          this.next[s * ALPHABET + c] = this.next[fail[s] * ALPHABET + c];
        } else {
          fail[t] = this.next[fail[s] * ALPHABET + c];
          this.next[s * ALPHABET + c] = t;
          queue.push(t);
        }
      }
    }
    this.outputs = out.map((o) => (o.length > 0 ? o : undefined));
    this.hasOutput = Uint8Array.from(out, (o) => (o.length > 0 ? 1 : 0));
  }

  scan(text: string): KeywordHits {
    // Hot loop (every harvested character): typed arrays and a flat list of (keyword, end) pairs; per-keyword
    // lists are only built on demand, which halved the scan's time (measured against an array per keyword).
    const { next, hasOutput, outputs } = this;
    const pairs: number[] = [];
    let state = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c >= ALPHABET) {
        state = 0;
        continue;
      }
      state = next[(state << ALPHABET_BITS) | LOWER[c]];
      if (hasOutput[state] !== 0) for (const id of outputs[state] as readonly number[]) pairs.push(id, i + 1);
    }
    return new Hits(pairs, this.ids);
  }
}

class Hits implements KeywordHits {
  #present: Uint8Array | undefined;
  constructor(
    private readonly pairs: readonly number[],
    private readonly ids: ReadonlyMap<string, number>,
  ) {}

  has(keyword: string): boolean {
    const id = this.idOf(keyword);
    if (!this.#present) {
      this.#present = new Uint8Array(this.ids.size);
      for (let i = 0; i < this.pairs.length; i += 2) this.#present[this.pairs[i]] = 1;
    }
    return this.#present[id] === 1;
  }

  ends(keyword: string): readonly number[] {
    return this.endsOfAny([keyword]);
  }

  endsOfAny(keywords: readonly string[]): readonly number[] {
    const wanted = new Uint8Array(this.ids.size);
    for (const k of keywords) wanted[this.idOf(k)] = 1;
    const out: number[] = [];
    // Pairs are in text order, so ends ascend; equal ends (nested keywords) are adjacent.
    for (let i = 0; i < this.pairs.length; i += 2) {
      const end = this.pairs[i + 1];
      if (wanted[this.pairs[i]] === 1 && out[out.length - 1] !== end) out.push(end);
    }
    return out;
  }

  private idOf(keyword: string): number {
    const id = this.ids.get(keyword);
    if (id === undefined) throw new Error(`keyword ${JSON.stringify(keyword)} was not scanned for`);
    return id;
  }
}
