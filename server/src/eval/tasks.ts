/**
 * Completion tasks built from the holdout (the newest commits' code), the way users meet completions: the next
 * line, the rest of a line, a multi-line block, each at a cursor with the code after it as the suffix. The target
 * is removed from the document, as it is not yet typed when the user asks. Deterministic for a seed.
 */
import { randInt, rngFor, shuffle, type Rng } from '../examples/prng';

export type TaskKind = 'next-line' | 'rest-of-line' | 'multi-line';
export const TASK_KINDS: readonly TaskKind[] = ['next-line', 'rest-of-line', 'multi-line'];

/** Default size budget: tasks per evaluation (each is one generation per arm). */
export const DEFAULT_MAX_TASKS = 64;
/** Tasks drawn from one file at most, so one long file does not decide the score. */
export const MAX_TASKS_PER_FILE = 8;
/** Lines shorter than this (after indentation) are trivial (`}`, `else:`) and make no task. */
export const MIN_TARGET_CHARS = 6;
export const MAX_BLOCK_LINES = 4;

export interface EvalTask {
  readonly id: string;
  readonly path: string;
  readonly language: string;
  readonly kind: TaskKind;
  /** Document text before the cursor and after the removed target. */
  readonly prefix: string;
  readonly suffix: string;
  readonly target: string;
}

export interface TaskSource {
  readonly path: string;
  readonly text: string;
  readonly language: string;
}

export function buildTasks(files: readonly TaskSource[], seed: number, maxTasks = DEFAULT_MAX_TASKS): EvalTask[] {
  const tasks: EvalTask[] = [];
  for (const file of [...files].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    tasks.push(...tasksOfFile(file, rngFor(seed, `eval:${file.path}`)));
  }
  return shuffle(tasks, rngFor(seed, 'eval:order')).slice(0, maxTasks);
}

function tasksOfFile(file: TaskSource, rng: Rng): EvalTask[] {
  const lines = file.text.split('\n');
  const starts: number[] = [];
  let offset = 0;
  for (const line of lines) {
    starts.push(offset);
    offset += line.length + 1;
  }
  const candidates = lines
    .map((line, i) => ({ i, indent: line.length - line.trimStart().length, content: line.trim() }))
    .filter((l) => l.i > 0 && l.content.length >= MIN_TARGET_CHARS);
  const out: EvalTask[] = [];
  for (const c of shuffle(candidates, rng).slice(0, MAX_TASKS_PER_FILE)) {
    const kind = TASK_KINDS[randInt(rng, 0, TASK_KINDS.length - 1)];
    const lineStart = starts[c.i] + c.indent;
    const lineEnd = starts[c.i] + lines[c.i].length;
    let cursor = lineStart;
    let end = lineEnd;
    if (kind === 'rest-of-line') {
      // Cut after a word or punctuation boundary, as when a user pauses typing.
      const cuts = [...lines[c.i].slice(c.indent).matchAll(/[\s(.,=:[{]/g)].map((m) => lineStart + (m.index ?? 0) + 1);
      const inside = cuts.filter((x) => x < lineEnd - 1);
      if (inside.length === 0) continue;
      cursor = inside[randInt(rng, 0, inside.length - 1)];
    } else if (kind === 'multi-line') {
      const last = Math.min(lines.length - 1, c.i + randInt(rng, 1, MAX_BLOCK_LINES - 1));
      end = starts[last] + lines[last].length;
    }
    const target = file.text.slice(cursor, end);
    if (target.trim().length < MIN_TARGET_CHARS && kind !== 'rest-of-line') continue;
    out.push({
      id: `${file.path}:${c.i + 1}:${kind}`,
      path: file.path,
      language: file.language,
      kind,
      prefix: file.text.slice(0, cursor),
      suffix: file.text.slice(end),
      target,
    });
  }
  return out;
}
