/**
 * Finds the candidate files of a workspace. In a git repository git decides (`ls-files` honours every .gitignore
 * and only lists what the user chose to track); in a plain folder we walk it and honour .gitignore files ourselves.
 * Symlinks are never followed: a link may point outside the workspace, or into a loop.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { simpleGit, type SimpleGit } from 'simple-git';
import { HarvestError } from './types';

/** A plain-folder walk stops after this many files, so a stray home directory cannot hang the sidecar. */
export const MAX_WALK_FILES = 100_000;
/** Directories a plain walk never enters (git's own data). */
const WALK_SKIP_DIRS = new Set(['.git', '.hg', '.svn']);

export interface Discovery {
  /** Paths relative to the root, forward slashes, sorted. */
  readonly paths: string[];
  /** Symlinked directories met by a plain walk (files that are links are reported by the caller's lstat). */
  readonly skippedLinks: string[];
  readonly notices: string[];
  readonly git?: GitInfo;
}

export interface GitInfo {
  readonly git: SimpleGit;
  /** HEAD commit, undefined in a repository without commits. */
  readonly head?: string;
  readonly commitCount: number;
}

export async function discover(root: string): Promise<Discovery> {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(root);
  } catch {
    throw new HarvestError(`Cannot read the workspace folder ${root}: it does not exist or is not accessible.`);
  }
  if (!stat.isDirectory()) throw new HarvestError(`The workspace ${root} is not a folder.`);

  const git = simpleGit({ baseDir: root });
  if (!(await isGitWorkTree(git))) {
    const walked = walkFolder(root);
    const notices = [`${root} is not a git repository: harvesting every file not excluded by .gitignore.`];
    if (walked.truncated) notices.push(`Stopped after ${MAX_WALK_FILES} files; open a smaller folder to harvest all of it.`);
    return { paths: walked.paths.sort(compare), skippedLinks: walked.links.sort(compare), notices };
  }

  const head = await revParse(git, 'HEAD');
  const notices: string[] = [];
  let listed: string;
  if (head === undefined) {
    notices.push(`${root} has no commits yet: harvesting the files in the index and working tree (no commit-based holdout).`);
    listed = await git.raw(['ls-files', '-z', '--cached', '--others', '--exclude-standard']);
  } else {
    listed = await git.raw(['ls-files', '-z']);
  }
  const paths = [...new Set(listed.split('\0').filter((p) => p.length > 0))].sort(compare);
  if (paths.length === 0) notices.push(`git lists no files under ${root}: is everything there ignored or untracked?`);
  const commitCount = head === undefined ? 0 : Number((await git.raw(['rev-list', '--count', 'HEAD'])).trim()) || 0;
  return { paths, skippedLinks: [], notices, git: { git, head, commitCount } };
}

async function isGitWorkTree(git: SimpleGit): Promise<boolean> {
  try {
    return (await git.raw(['rev-parse', '--is-inside-work-tree'])).trim() === 'true';
  } catch {
    return false;
  }
}

async function revParse(git: SimpleGit, ref: string): Promise<string | undefined> {
  try {
    return (await git.raw(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`])).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Paths changed by the newest `n` commits (first-parent), relative to the root. */
export async function pathsChangedByNewestCommits(git: SimpleGit, n: number): Promise<Set<string>> {
  const out = await git.raw(['diff', '--name-only', '-z', '--no-renames', '--relative', `HEAD~${n}`, 'HEAD']);
  return new Set(out.split('\0').filter((p) => p.length > 0));
}

interface Walked {
  paths: string[];
  links: string[];
  truncated: boolean;
}

/** Depth-first walk honouring each directory's .gitignore (rules apply to paths relative to their own folder). */
function walkFolder(root: string): Walked {
  const out: Walked = { paths: [], links: [], truncated: false };
  const visit = (relDir: string, rules: { base: string; ig: Ignore }[]) => {
    const abs = path.join(root, relDir);
    const ownRules = readGitignore(abs);
    const active = ownRules ? [...rules, { base: relDir, ig: ownRules }] : rules;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(abs, { withFileTypes: true });
    } catch {
      return; // unreadable folder: nothing to harvest there
    }
    entries.sort((a, b) => compare(a.name, b.name));
    for (const e of entries) {
      if (out.truncated) return;
      const rel = relDir ? `${relDir}/${e.name}` : e.name;
      const isDir = e.isDirectory();
      if (isDir && WALK_SKIP_DIRS.has(e.name)) continue;
      if (isIgnored(active, rel, isDir)) continue;
      if (e.isSymbolicLink()) {
        out.links.push(rel);
      } else if (isDir) {
        visit(rel, active);
      } else if (e.isFile()) {
        out.paths.push(rel);
        if (out.paths.length >= MAX_WALK_FILES) out.truncated = true;
      }
    }
  };
  visit('', []);
  return out;
}

function readGitignore(dir: string): Ignore | undefined {
  try {
    return ignore().add(fs.readFileSync(path.join(dir, '.gitignore'), 'utf8'));
  } catch {
    return undefined;
  }
}

function isIgnored(rules: { base: string; ig: Ignore }[], rel: string, isDir: boolean): boolean {
  for (const { base, ig } of rules) {
    const local = base ? rel.slice(base.length + 1) : rel;
    if (ig.ignores(isDir ? `${local}/` : local)) return true;
  }
  return false;
}

/** Byte-wise order, the same on every platform and locale, so results are deterministic. */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
