/**
 * Which files are held out for evaluation. The newest commits are the best holdout: they are the code the model
 * has not seen yet, which is what a completion model meets in real use. When history cannot decide (no git, no
 * commits, too few commits, or the newest commits touch none or over MAX_HOLDOUT_SHARE of the kept files) a stable ~10% of paths,
 * chosen by path hash, is held out instead, so the same file lands on the same side on every run.
 */
import { createHash } from 'node:crypto';
import { pathsChangedByNewestCommits, type GitInfo } from './discover';

export const DEFAULT_HOLDOUT_COMMITS = 1;
export const DEFAULT_HOLDOUT_FRACTION = 0.1;
/**
 * Largest share of the kept files the newest commits may hold out. A sweeping last commit (a reformat, an initial
 * import) would otherwise take most of the repository away from training.
 */
export const MAX_HOLDOUT_SHARE = 0.3;

export interface HoldoutChoice {
  readonly holdout: ReadonlySet<string>;
  readonly rule: 'newest-commits' | 'path-hash';
  readonly notice?: string;
}

export async function chooseHoldout(
  keptPaths: readonly string[],
  git: GitInfo | undefined,
  commits: number,
  fraction: number,
): Promise<HoldoutChoice> {
  let notice: string | undefined;
  if (git?.head !== undefined && commits > 0 && git.commitCount > commits) {
    const changed = await pathsChangedByNewestCommits(git.git, commits);
    const holdout = new Set(keptPaths.filter((p) => changed.has(p)));
    if (holdout.size > 0 && holdout.size <= keptPaths.length * MAX_HOLDOUT_SHARE) return { holdout, rule: 'newest-commits' };
    notice =
      holdout.size === 0
        ? `The newest ${commits} commit(s) changed no harvested file: holding out ~${pct(fraction)} of files by path instead.`
        : `The newest ${commits} commit(s) changed ${holdout.size} of ${keptPaths.length} harvested files (over ${pct(MAX_HOLDOUT_SHARE)}): holding out ~${pct(fraction)} of files by path instead.`;
  } else if (git?.head !== undefined) {
    notice = `Only ${git.commitCount} commit(s): holding out ~${pct(fraction)} of files by path instead of the newest commits.`;
  }
  return { holdout: new Set(keptPaths.filter((p) => pathHashFraction(p) < fraction)), rule: 'path-hash', notice };
}

/** A path's stable position in [0, 1). */
export function pathHashFraction(relPath: string): number {
  return createHash('sha1').update(relPath).digest().readUInt32BE(0) / 2 ** 32;
}

function pct(fraction: number): string {
  return `${Math.round(fraction * 100)}%`;
}
