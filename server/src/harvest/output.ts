/**
 * What a harvest leaves for people and tools: `manifest.json` (the manifest plus every exclusion and notice, never
 * file contents), the corpus as files (`corpus/<split>/<path>`), and the human summary the CLI and VS Code show.
 * All of it is deterministic for the same commit and settings: no timestamps, sorted keys and paths.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { HarvestManifest, HarvestResult } from './types';

export const MANIFEST_FILE = 'manifest.json';
export const CORPUS_DIR = 'corpus';

/** Writes `<dir>/manifest.json` and returns its path. */
export function writeManifest(dir: string, result: HarvestResult): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, MANIFEST_FILE);
  const body = { ...result.manifest, notices: result.notices, excluded: result.excluded };
  fs.writeFileSync(file, `${JSON.stringify(body, null, 2)}\n`);
  return file;
}

/** Writes each kept file to `<dir>/corpus/<split>/<path>`, one at a time (texts may live on disk). */
export function writeCorpus(dir: string, result: HarvestResult): string {
  const corpus = path.join(dir, CORPUS_DIR);
  fs.rmSync(corpus, { recursive: true, force: true }); // a file left out this time must not linger from a last run
  for (const f of result.files) {
    const dest = path.join(corpus, f.split, f.path);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, f.text);
  }
  return corpus;
}

/** A few lines a person reads: what went in, what was left out and why, secrets, languages, the holdout. */
export function formatSummary(m: HarvestManifest): string {
  const secrets = Object.entries(m.secretsRedacted);
  const secretTotal = secrets.reduce((n, [, c]) => n + c, 0);
  const lines = [
    `commit:    ${m.commit ?? '(none)'}`,
    `files:     ${m.filesIn} found, ${m.filesOut} kept (${m.trainFiles} train, ${m.holdoutFiles} holdout), ${m.filesExcluded} left out`,
    `bytes:     ${formatBytes(m.bytesIn)} read, ${formatBytes(m.bytes)} kept (${formatBytes(m.holdoutBytes)} holdout)`,
    `left out:  ${list(m.byReason) || 'nothing'}`,
    `languages: ${list(m.languages) || 'none'}`,
    `secrets:   ${secretTotal === 0 ? 'none found' : `${secretTotal} ${m.settings.secrets === 'drop' ? 'found (files dropped)' : 'redacted'}: ${list(m.secretsRedacted)}`}`,
    `holdout:   ${m.holdoutRule} (setting: ${m.settings.holdout})`,
  ];
  return lines.join('\n');
}

function list(counts: Record<string, number>): string {
  return Object.entries(counts)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
}

function formatBytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`;
}
