/**
 * The harvest stage: workspace → the files a model may learn from. Discover (git or plain walk), exclude (each
 * with a reason), normalise, scan for secrets (redact or drop), choose the holdout, then remove exact and near
 * duplicates — holdout files first, so that no copy or near copy of the holdout stays in training. The per-file
 * work runs in worker threads for large repositories (pool.ts), and its outcomes come back in order. Deterministic:
 * the same commit and settings give the same result, in byte-wise path order. Texts are streamed one file at a
 * time into a store (memory or a corpus folder); what stays in memory per file is its path and a 256-byte signature.
 */
import * as path from 'node:path';
import { compare, discover } from './discover';
import { MAX_FILE_BYTES, pathExclusion } from './filters';
import { chooseHoldout, DEFAULT_HOLDOUT_COMMITS, DEFAULT_HOLDOUT_FRACTION, describeHoldout, newestChanges, type HoldoutSetting } from './holdout';
import { languageOf } from './languages';
import { dedupe, type Candidate } from './dedupe';
import { isDiskFull } from '../diskFull';
import { nativeNotice } from './native';
import { processInOrder, workerCount } from './pool';
import { makeSelection } from './selection';
import { memoryStore, packStore, type TextStore } from './store';
import { HarvestError, type Exclusion, type ExclusionReason, type HarvestedFile, type HarvestOptions, type HarvestResult, type SecretsMode, type Split } from './types';

export * from './types';
export { REPOTUNE_IGNORE_FILE } from './selection';
export { formatSummary, MANIFEST_FILE, writeCorpus, writeManifest } from './output';

/** A kept file; its text comes from the store on each access (see HarvestedFile.text). */
class StoredFile implements HarvestedFile {
  readonly #store: TextStore;
  constructor(
    readonly path: string,
    readonly language: string,
    readonly split: Split,
    readonly bytes: number,
    readonly sha256: string,
    store: TextStore,
  ) {
    this.#store = store;
  }
  get text(): string {
    return this.#store.get(this.sha256);
  }
}

export async function harvest(root: string, opts: HarvestOptions = {}): Promise<HarvestResult> {
  const absRoot = path.resolve(root);
  const secretsMode = checkOptions(opts);
  const holdoutSetting: HoldoutSetting = opts.holdoutDays !== undefined ? { days: opts.holdoutDays } : { commits: opts.holdoutCommits ?? DEFAULT_HOLDOUT_COMMITS };
  const holdoutFraction = opts.holdoutFraction ?? DEFAULT_HOLDOUT_FRACTION;
  const maxBytes = opts.maxFileBytes ?? MAX_FILE_BYTES;
  const found = await discover(absRoot);
  const selection = makeSelection(absRoot, opts);
  const notices = [...found.notices];
  const addonUnused = opts.nativeScan === false ? undefined : nativeNotice();
  if (addonUnused) notices.push(addonUnused);
  const excluded: Exclusion[] = [...found.preExcluded];
  const store = opts.corpusDir ? packStore(path.resolve(opts.corpusDir)) : memoryStore();
  const secretCounts: Record<string, number> = {};
  const candidates: Candidate[] = [];
  let bytesIn = 0;

  const toRead: string[] = [];
  for (const rel of found.paths) {
    const byPath = selection.exclusion(rel) ?? pathExclusion(rel);
    if (byPath) excluded.push({ path: rel, reason: byPath });
    else toRead.push(rel);
  }
  // git answers what the newest commits changed while the files are read.
  const history = newestChanges(found.git, holdoutSetting);
  history.catch(() => undefined); // awaited below; a harvest that stops first must not leave it unhandled
  const settings = { root: absRoot, maxBytes, secrets: secretsMode, native: opts.nativeScan };
  const threads = workerCount(opts.workers, toRead.length, settings);
  try {
    for await (const outcome of processInOrder(toRead, settings, threads, opts.workers !== undefined, store.pack)) {
      if (opts.signal?.aborted) throw new HarvestError('Harvest was cancelled.');
      bytesIn += outcome.diskBytes;
      for (const rule in outcome.secretCounts) secretCounts[rule] = (secretCounts[rule] ?? 0) + outcome.secretCounts[rule];
      if ('reason' in outcome) {
        excluded.push({ path: outcome.path, reason: outcome.reason });
        continue;
      }
      store.put(outcome.sha256, outcome.content);
      candidates.push({ path: outcome.path, sha256: outcome.sha256, bytes: outcome.content.length, signature: outcome.signature });
    }
  } catch (err) {
    // The corpus folder is the only place the harvest writes; the workspace is only read.
    if (opts.corpusDir && isDiskFull(err)) {
      throw new HarvestError(`The disk holding the corpus folder ${path.resolve(opts.corpusDir)} is full (${(err as Error).message}). Free some space there, then harvest again.`);
    }
    throw err;
  }

  const holdout = await chooseHoldout(candidates.map((c) => c.path), found.git, holdoutSetting, holdoutFraction, history);
  if (holdout.notice) notices.push(holdout.notice);
  const isHoldout = (c: Candidate) => holdout.holdout.has(c.path);
  const { kept, dropped } = dedupe(candidates, isHoldout, opts.nativeScan !== false);
  excluded.push(...dropped.map(({ candidate, reason }) => ({ path: candidate.path, reason })));
  const keptObjects = new Set(kept.map((c) => c.sha256));
  for (const { candidate } of dropped) if (!keptObjects.has(candidate.sha256)) store.delete(candidate.sha256);

  const files: StoredFile[] = kept
    .sort((a, b) => compare(a.path, b.path))
    .map((c) => new StoredFile(c.path, languageOf(c.path), isHoldout(c) ? 'holdout' : 'train', c.bytes, c.sha256, store));
  excluded.sort((a, b) => compare(a.path, b.path));
  const holdoutFiles = files.filter((f) => f.split === 'holdout');
  return {
    files,
    excluded,
    notices,
    manifest: {
      commit: found.git?.head ?? null,
      settings: {
        include: [...(opts.include ?? [])],
        exclude: [...(opts.exclude ?? [])],
        languages: [...(opts.languages ?? [])],
        secrets: secretsMode,
        maxFileBytes: maxBytes,
        holdout: describeHoldout(holdoutSetting, holdoutFraction),
      },
      filesIn: found.paths.length + found.preExcluded.length,
      filesOut: files.length,
      filesExcluded: excluded.length,
      byReason: countBy(excluded.map((e) => e.reason)),
      bytesIn,
      bytes: files.reduce((n, f) => n + f.bytes, 0),
      languages: countBy(files.map((f) => f.language)),
      secretsRedacted: sortKeys(secretCounts),
      trainFiles: files.length - holdoutFiles.length,
      holdoutFiles: holdoutFiles.length,
      holdoutBytes: holdoutFiles.reduce((n, f) => n + f.bytes, 0),
      holdoutRule: holdout.rule,
    },
  };
}

function checkOptions(opts: HarvestOptions): SecretsMode {
  const mode = opts.secrets ?? 'redact';
  if (mode !== 'redact' && mode !== 'drop') throw new HarvestError(`secrets must be 'redact' or 'drop' (got '${String(mode)}').`);
  const counts: [string, number | undefined][] = [['holdoutCommits', opts.holdoutCommits], ['holdoutDays', opts.holdoutDays], ['maxFileBytes', opts.maxFileBytes]];
  for (const [name, value] of counts) {
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) throw new HarvestError(`${name} must be a number ≥ 0 (got ${value}).`);
  }
  const f = opts.holdoutFraction;
  if (f !== undefined && !(f >= 0 && f <= 1)) throw new HarvestError(`holdoutFraction must be between 0 and 1 (got ${f}).`);
  return mode;
}

function countBy(keys: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const k of keys) counts[k] = (counts[k] ?? 0) + 1;
  return sortKeys(counts);
}

function sortKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => compare(a, b)));
}
