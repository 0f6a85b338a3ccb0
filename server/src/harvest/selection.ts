/**
 * The user's choice of files: `.repotuneignore` (gitignore syntax, at the workspace root) and the include/exclude
 * globs and languages of the settings. Checked on the path alone, before any read.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { languageOf } from './languages';
import { HarvestError, type ExclusionReason, type HarvestOptions } from './types';

export const REPOTUNE_IGNORE_FILE = '.repotuneignore';

export interface Selection {
  /** Why the user's settings leave `relPath` out, or undefined when they keep it. */
  exclusion(relPath: string): ExclusionReason | undefined;
}

export function makeSelection(root: string, opts: HarvestOptions): Selection {
  const userIgnore = readRepotuneIgnore(root);
  const include = opts.include?.length ? globs(opts.include, 'include') : undefined;
  const exclude = opts.exclude?.length ? globs(opts.exclude, 'exclude') : undefined;
  const languages = opts.languages?.length ? new Set(opts.languages) : undefined;
  return {
    exclusion(relPath) {
      if (userIgnore?.ignores(relPath)) return 'repotuneignore';
      if (include && !include.ignores(relPath)) return 'excluded-by-setting';
      if (exclude?.ignores(relPath)) return 'excluded-by-setting';
      if (languages && !languages.has(languageOf(relPath))) return 'language-not-selected';
      return undefined;
    },
  };
}

function globs(patterns: readonly string[], setting: string): Ignore {
  try {
    return ignore().add([...patterns]);
  } catch (e) {
    throw new HarvestError(`The ${setting} setting has an invalid glob (${(e as Error).message}); use gitignore syntax, e.g. "src/**/*.ts".`);
  }
}

function readRepotuneIgnore(root: string): Ignore | undefined {
  const file = path.join(root, REPOTUNE_IGNORE_FILE);
  let body: string;
  try {
    body = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  return ignore().add(body);
}
