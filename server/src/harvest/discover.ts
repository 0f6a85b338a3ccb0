/**
 * Finds the candidate files of a workspace. In a git repository git decides (`ls-files` honours every .gitignore
 * and only lists what the user chose to track); in a plain folder we walk it and honour .gitignore files ourselves.
 * Symlinks are never followed: a link may point outside the workspace, or into a loop.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { simpleGit, type SimpleGit } from 'simple-git';
import { HarvestError, type Exclusion } from './types';

/** A plain-folder walk stops after this many files, so a stray home directory cannot hang the sidecar. */
export const MAX_WALK_FILES = 100_000;
/** Directories a plain walk never enters (git's own data). */
const WALK_SKIP_DIRS = new Set(['.git', '.hg', '.svn']);
/** git index modes of entries that are not regular files. */
const GIT_MODE_SYMLINK = '120000';
const GIT_MODE_SUBMODULE = '160000';

export interface Discovery {
  /** Paths relative to the root, forward slashes, sorted. */
  readonly paths: string[];
  /** Entries left out before reading: submodules, links met by a plain walk (counted in filesIn). */
  readonly preExcluded: Exclusion[];
  readonly notices: string[];
  readonly git?: GitInfo;
}

export interface GitInfo {
  readonly git: SimpleGit;
  /** HEAD commit, undefined in a repository without commits. */
  readonly head?: string;
  readonly commitCount: number;
  /** A shallow clone: history ends early, so commit counts are a lower bound. */
  readonly shallow: boolean;
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
  // Independent questions, asked at once: each git process costs 5–30 ms, and the harvest waits for all of them.
  // Outside a repository all but the first fail, and only the first is awaited. --stage gives each entry's mode:
  // submodules (gitlinks) and symlinks are known without touching the tree.
  const inWorkTree = isGitWorkTree(git);
  const headAsked = revParse(git, 'HEAD');
  const listedAsked = git.raw(['ls-files', '-z', '--stage']);
  const countAsked = git.raw(['rev-list', '--count', 'HEAD']).catch(() => '0'); // fails without commits
  const shallowAsked = git.raw(['rev-parse', '--is-shallow-repository']);
  for (const asked of [listedAsked, shallowAsked]) asked.catch(() => undefined); // awaited below, in a repository
  if (!(await inWorkTree)) {
    const walked = walkFolder(root);
    const notices = [`${root} is not a git repository: harvesting every file not excluded by .gitignore.`];
    if (walked.truncated) notices.push(`Stopped after ${MAX_WALK_FILES} files; open a smaller folder to harvest all of it.`);
    const preExcluded = walked.links.sort(compare).map((p) => ({ path: p, reason: linkReason(root, p) }));
    return { paths: walked.paths.sort(compare), preExcluded, notices };
  }

  const [head, listed, count, shallowAnswer] = await Promise.all([headAsked, listedAsked, countAsked, shallowAsked]);
  const staged = parseStaged(listed);
  const notices: string[] = [];
  if (head === undefined) {
    notices.push(`${root} has no commits yet: harvesting the files in the index and working tree (no commit-based holdout).`);
    const others = await git.raw(['ls-files', '-z', '--others', '--exclude-standard']);
    for (const p of others.split('\0')) if (p && !staged.has(p)) staged.set(p, '100644');
  }
  const paths: string[] = [];
  const preExcluded: Exclusion[] = [];
  for (const [p, mode] of staged) {
    if (mode === GIT_MODE_SUBMODULE) preExcluded.push({ path: p, reason: 'submodule' });
    else if (mode === GIT_MODE_SYMLINK) preExcluded.push({ path: p, reason: linkReason(root, p) });
    else paths.push(p);
  }
  paths.sort(compare);
  preExcluded.sort((a, b) => compare(a.path, b.path));
  if (preExcluded.some((e) => e.reason === 'submodule')) {
    notices.push('Submodules are not harvested (they are other repositories); open a submodule as its own workspace to train on it.');
  }
  if (paths.length === 0) notices.push(`git lists no files under ${root}: is everything there ignored or untracked?`);
  const commitCount = head === undefined ? 0 : Number(count.trim()) || 0;
  const shallow = head !== undefined && shallowAnswer.trim() === 'true';
  if (shallow) notices.push(`${root} is a shallow clone (${commitCount} ${commitCount === 1 ? 'commit' : 'commits'} of history): the holdout can only use those commits.`);
  return { paths, preExcluded, notices, git: { git, head, commitCount, shallow } };
}

/** `ls-files --stage -z` → path → mode (one entry per path; merge conflicts list a path up to three times). */
function parseStaged(out: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const record of out.split('\0')) {
    const tab = record.indexOf('\t');
    if (tab < 0) continue;
    entries.set(record.slice(tab + 1), record.slice(0, record.indexOf(' ')));
  }
  return entries;
}

/** A link is never followed; the manifest says whether it pointed outside the workspace. */
export function linkReason(root: string, rel: string): 'symlink' | 'outside-workspace' {
  try {
    const target = fs.realpathSync(path.join(root, rel));
    const realRoot = fs.realpathSync(root);
    return target === realRoot || target.startsWith(realRoot + path.sep) ? 'symlink' : 'outside-workspace';
  } catch {
    return 'symlink'; // dangling
  }
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

/** First-parent commit times (unix seconds) from HEAD back, at most `limit` of them. */
export async function firstParentCommitTimes(git: SimpleGit, limit: number): Promise<number[]> {
  const out = await git.raw(['log', '--first-parent', '--format=%ct', `-n${limit}`, 'HEAD']);
  return out.split('\n').filter((l) => l.trim()).map(Number);
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
