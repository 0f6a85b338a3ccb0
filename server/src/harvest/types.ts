/** Shapes shared by the harvest stage and its consumers (examples, pipeline, CLI). */

export type Split = 'train' | 'holdout';

export interface HarvestedFile {
  /** Path relative to the harvested root, with forward slashes. */
  readonly path: string;
  /** UTF-8 text without BOM, LF line endings, secrets redacted. */
  readonly text: string;
  /** VS Code language id ('typescript', 'python', …), 'plaintext' when unknown. */
  readonly language: string;
  readonly split: Split;
}

/** Why a file was left out. Stable strings: the manifest counts them and users read them. */
export type ExclusionReason =
  | 'symlink'
  | 'not-a-file'
  | 'missing'
  | 'repotuneignore'
  | 'vendored'
  | 'lock-file'
  | 'data-file'
  | 'generated'
  | 'minified'
  | 'too-large'
  | 'binary'
  | 'lfs-pointer'
  | 'not-utf8'
  | 'empty'
  | 'duplicate';

export interface Exclusion {
  readonly path: string;
  readonly reason: ExclusionReason;
}

export interface HarvestOptions {
  /** The files changed by this many newest commits are the holdout (default 1). */
  readonly holdoutCommits?: number;
  /** Share of files held out by path hash when commits cannot decide (default 0.1). */
  readonly holdoutFraction?: number;
  /** Larger files are left out as 'too-large' (default MAX_FILE_BYTES). */
  readonly maxFileBytes?: number;
  readonly signal?: AbortSignal;
}

export interface HarvestManifest {
  /** HEAD commit harvested, null for a folder without git or a repository without commits. */
  readonly commit: string | null;
  /** Files discovered. */
  readonly filesIn: number;
  /** Files kept (train + holdout). */
  readonly filesOut: number;
  readonly filesExcluded: number;
  readonly byReason: Record<string, number>;
  /** UTF-8 bytes of the kept files' text. */
  readonly bytes: number;
  /** Kept files per language id. */
  readonly languages: Record<string, number>;
  /** Redactions per secret rule id; the secrets themselves are never stored. */
  readonly secretsRedacted: Record<string, number>;
  readonly holdoutFiles: number;
  /** How the holdout was chosen. */
  readonly holdoutRule: 'newest-commits' | 'path-hash';
}

export interface HarvestResult {
  readonly files: HarvestedFile[];
  readonly excluded: Exclusion[];
  readonly notices: string[];
  readonly manifest: HarvestManifest;
}

export class HarvestError extends Error {}
