/**
 * What the repository says about its models, by a simple scan of the harvested files: the framework it imports
 * most (the form's default) and its own model classes (`class X(nn.Module)`, `class X(keras.Model)`, flax
 * `nn.Module`), which go into the prompt as cross-file context so the generated code follows the house style.
 * A regex scan, not a parser: it only has to find good examples, and a miss costs style, never correctness.
 */
import type { HarvestedFile } from '../harvest/types';
import type { ContextSnippet } from '../examples/promptBuilder';
import type { Framework } from './spec';

/** Examples kept for the prompt; the prompt builder drops the least relevant ones first when over budget. */
export const MAX_STYLE_EXAMPLES = 3;
/** A longer class is cut: its start (constructor, first layers) carries the style. */
export const MAX_EXAMPLE_CHARS = 1500;

const IMPORT_PATTERNS: Record<Framework, RegExp> = {
  torch: /^\s*(import torch\b|from torch\b)/m,
  tensorflow: /^\s*(import tensorflow\b|from tensorflow\b|import keras\b|from keras\b)/m,
  jax: /^\s*(import jax\b|from jax\b|import flax\b|from flax\b)/m,
};

const MODEL_BASES: Record<Framework, RegExp> = {
  torch: /\b(nn|torch\.nn)\.Module\b|\bLightningModule\b/,
  tensorflow: /\b(keras|tf\.keras)\.(Model|layers\.Layer)\b|\b(Model|Layer)\b/,
  jax: /\b(nn|linen|flax\.linen)\.Module\b/,
};

/** The fields the scan reads (harvested files have more). */
export type ScannedFile = Pick<HarvestedFile, 'path' | 'text' | 'language'>;

const CLASS_RE = /^class\s+(\w+)\s*\(([^)]*)\)\s*:/gm;

/** The framework most Python files import; undefined when none does. */
export function inferFramework(files: readonly ScannedFile[]): Framework | undefined {
  const counts: Record<Framework, number> = { torch: 0, tensorflow: 0, jax: 0 };
  for (const f of files) {
    if (f.language !== 'python') continue;
    const text = f.text; // may be read from disk on each access (harvest's corpus store): once per file
    for (const fw of Object.keys(counts) as Framework[]) if (IMPORT_PATTERNS[fw].test(text)) counts[fw]++;
  }
  const [best, n] = (Object.entries(counts) as [Framework, number][]).sort((a, b) => b[1] - a[1])[0];
  return n > 0 ? best : undefined;
}

export interface ModelClassExample extends ContextSnippet {
  readonly className: string;
}

/** Top-level model classes of `framework` in the repository, shortest files first (they are the cheapest context). */
export function findModelClasses(files: readonly ScannedFile[], framework: Framework, limit = MAX_STYLE_EXAMPLES): ModelClassExample[] {
  const found: ModelClassExample[] = [];
  for (const f of files) {
    if (f.language !== 'python') continue;
    const text = f.text;
    if (!IMPORT_PATTERNS[framework].test(text)) continue;
    for (const m of text.matchAll(CLASS_RE)) {
      if (!MODEL_BASES[framework].test(m[2])) continue;
      const block = classBlock(text, m.index ?? 0);
      found.push({ path: f.path, className: m[1], text: block.length > MAX_EXAMPLE_CHARS ? `${block.slice(0, MAX_EXAMPLE_CHARS)}\n    ...` : block });
    }
  }
  // Holdout files are newest code; any order is fine for style, so keep a deterministic one: short first.
  found.sort((a, b) => a.text.length - b.text.length || a.path.localeCompare(b.path));
  return found.slice(0, limit);
}

/** From `class …:` to the next top-level statement (decorators and comments of the next block excluded). */
function classBlock(text: string, start: number): string {
  const lines = text.slice(start).split('\n');
  let end = lines.length;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '' || /^\s/.test(line)) continue;
    end = i;
    break;
  }
  return lines.slice(0, end).join('\n').trimEnd();
}
