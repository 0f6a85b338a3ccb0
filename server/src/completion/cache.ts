/**
 * LRU cache of completions keyed by a hash of (scope, prefix tail, suffix). It also serves while the user types
 * INTO a shown completion: when the new prefix is an old prefix plus typed text and that old completion starts
 * with the typed text, the rest of it is the answer, with no model run.
 */
import { createHash } from 'node:crypto';

export const COMPLETION_CACHE_ENTRIES = 200;
/**
 * Only this much of the prefix (its end) goes into the key. It must be shorter than the prefix window, so that
 * when the window start moves while typing, "old prefix + typed" still has the old key.
 */
export const CACHE_KEY_PREFIX_CHARS = 2000;
/** How many typed characters back the type-through lookup searches for the completion being typed into. */
export const MAX_TYPED_THROUGH_CHARS = 64;

export interface CacheHit {
  readonly completion: string;
  /** Characters the user typed since the cached completion was made (0 for an exact hit). */
  readonly typedChars: number;
}

export class CompletionCache {
  // A Map iterates in insertion order: re-inserting on use makes the first key the least recently used.
  private readonly entries = new Map<string, string>();

  constructor(private readonly capacity: number = COMPLETION_CACHE_ENTRIES) {}

  get size(): number {
    return this.entries.size;
  }

  private key(scope: string, prefix: string, suffixHash: string): string {
    return createHash('sha1').update(scope).update('\0').update(prefix.slice(-CACHE_KEY_PREFIX_CHARS)).update('\0').update(suffixHash).digest('base64');
  }

  private suffixHash(suffix: string): string {
    return createHash('sha1').update(suffix).digest('base64');
  }

  set(scope: string, prefix: string, suffix: string, completion: string): void {
    const key = this.key(scope, prefix, this.suffixHash(suffix));
    this.entries.delete(key);
    this.entries.set(key, completion);
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  /** An exact hit, or the untyped rest of a completion the user has been typing into. */
  get(scope: string, prefix: string, suffix: string): CacheHit | undefined {
    const suffixHash = this.suffixHash(suffix);
    const maxTyped = Math.min(MAX_TYPED_THROUGH_CHARS, prefix.length);
    for (let typed = 0; typed <= maxTyped; typed++) {
      const key = this.key(scope, prefix.slice(0, prefix.length - typed), suffixHash);
      const completion = this.entries.get(key);
      if (completion === undefined) continue;
      const typedText = prefix.slice(prefix.length - typed);
      // A typed-through completion must match what was typed, and leave something to show.
      if (!completion.startsWith(typedText) || completion.length === typed) continue;
      this.entries.delete(key);
      this.entries.set(key, completion);
      return { completion: completion.slice(typed), typedChars: typed };
    }
    return undefined;
  }

  clear(): void {
    this.entries.clear();
  }
}
