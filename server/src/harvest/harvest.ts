/**
 * The harvest stage: workspace → the files a model may learn from. Discover (git or plain walk), exclude (each
 * with a reason), normalise, dedupe, choose the holdout, redact secrets. Deterministic: the same tree gives the
 * same result, in byte-wise path order.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import ignore, { type Ignore } from 'ignore';
import { compare, discover } from './discover';
import { decodeContent, MAX_FILE_BYTES, pathExclusion } from './filters';
import { chooseHoldout, DEFAULT_HOLDOUT_COMMITS, DEFAULT_HOLDOUT_FRACTION } from './holdout';
import { languageOf } from './languages';
import { redactSecrets } from './secrets';
import { HarvestError, type Exclusion, type ExclusionReason, type HarvestedFile, type HarvestOptions, type HarvestResult } from './types';

export * from './types';

export const REPOTUNE_IGNORE_FILE = '.repotuneignore';
export const MANIFEST_FILE = 'manifest.json';
/** Give the event loop a turn this often, so an LSP server stays responsive while harvesting. */
const YIELD_EVERY_FILES = 200;

interface Candidate {
  readonly path: string;
  readonly text: string;
}

export async function harvest(root: string, opts: HarvestOptions = {}): Promise<HarvestResult> {
  const absRoot = path.resolve(root);
  const found = await discover(absRoot);
  const notices = [...found.notices];
  const excluded: Exclusion[] = found.skippedLinks.map((p) => ({ path: p, reason: 'symlink' as const }));
  const userIgnore = readRepotuneIgnore(absRoot);
  const maxBytes = opts.maxFileBytes ?? MAX_FILE_BYTES;

  const candidates: Candidate[] = [];
  const seenContent = new Set<string>();
  for (let i = 0; i < found.paths.length; i++) {
    if (i % YIELD_EVERY_FILES === YIELD_EVERY_FILES - 1) await new Promise<void>((r) => setImmediate(r));
    if (opts.signal?.aborted) throw new HarvestError('Harvest was cancelled.');
    const rel = found.paths[i];
    const outcome: Read = userIgnore?.ignores(rel) ? { reason: 'repotuneignore' } : readCandidate(absRoot, rel, maxBytes);
    if ('reason' in outcome) {
      excluded.push({ path: rel, reason: outcome.reason });
      continue;
    }
    // Exact duplicates (copied files, vendored copies under another name) would be learnt twice; keep the first.
    const digest = createHash('sha256').update(outcome.text).digest('hex');
    if (seenContent.has(digest)) {
      excluded.push({ path: rel, reason: 'duplicate' });
      continue;
    }
    seenContent.add(digest);
    candidates.push({ path: rel, text: outcome.text });
  }

  const holdout = await chooseHoldout(
    candidates.map((c) => c.path),
    found.git,
    opts.holdoutCommits ?? DEFAULT_HOLDOUT_COMMITS,
    opts.holdoutFraction ?? DEFAULT_HOLDOUT_FRACTION,
  );
  if (holdout.notice) notices.push(holdout.notice);

  const secretsRedacted: Record<string, number> = {};
  const languages: Record<string, number> = {};
  let bytes = 0;
  const files: HarvestedFile[] = candidates.map((c) => {
    const redaction = redactSecrets(c.text);
    for (const [rule, n] of Object.entries(redaction.counts)) secretsRedacted[rule] = (secretsRedacted[rule] ?? 0) + n;
    const language = languageOf(c.path);
    languages[language] = (languages[language] ?? 0) + 1;
    bytes += Buffer.byteLength(redaction.text, 'utf8');
    return { path: c.path, text: redaction.text, language, split: holdout.holdout.has(c.path) ? 'holdout' : 'train' };
  });

  excluded.sort((a, b) => compare(a.path, b.path));
  const byReason: Record<string, number> = {};
  for (const e of excluded) byReason[e.reason] = (byReason[e.reason] ?? 0) + 1;
  return {
    files,
    excluded,
    notices,
    manifest: {
      commit: found.git?.head ?? null,
      filesIn: found.paths.length + found.skippedLinks.length,
      filesOut: files.length,
      filesExcluded: excluded.length,
      byReason: sortKeys(byReason),
      bytes,
      languages: sortKeys(languages),
      secretsRedacted: sortKeys(secretsRedacted),
      holdoutFiles: files.filter((f) => f.split === 'holdout').length,
      holdoutRule: holdout.rule,
    },
  };
}

/** The normalised text of a file, or why it is left out. Never follows a symlink. */
type Read = { text: string } | { reason: ExclusionReason };

function readCandidate(root: string, rel: string, maxBytes: number): Read {
  const abs = path.join(root, rel);
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(abs);
  } catch {
    return { reason: 'missing' }; // tracked but deleted in the working tree
  }
  if (stat.isSymbolicLink()) return { reason: 'symlink' };
  if (!stat.isFile()) return { reason: 'not-a-file' }; // submodules, sockets
  const byPath = pathExclusion(rel);
  if (byPath) return { reason: byPath };
  if (stat.size > maxBytes) return { reason: 'too-large' };
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(abs);
  } catch {
    return { reason: 'missing' };
  }
  const decoded = decodeContent(bytes);
  return decoded.ok ? { text: decoded.text } : { reason: decoded.reason };
}

function readRepotuneIgnore(root: string): Ignore | undefined {
  const file = path.join(root, REPOTUNE_IGNORE_FILE);
  if (!fs.existsSync(file)) return undefined;
  return ignore().add(fs.readFileSync(file, 'utf8'));
}

function sortKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => compare(a, b)));
}

/** Writes `<dir>/manifest.json`: the manifest plus every exclusion and notice (never file contents). */
export function writeManifest(dir: string, result: HarvestResult): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, MANIFEST_FILE);
  const body = { ...result.manifest, notices: result.notices, excluded: result.excluded };
  fs.writeFileSync(file, `${JSON.stringify(body, null, 2)}\n`);
  return file;
}
