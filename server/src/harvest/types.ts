/** Shapes shared by the harvest stage and its consumers (examples, pipeline, CLI). */

export type Split = 'train' | 'holdout';

export interface HarvestedFile {
  /** Path relative to the harvested root, with forward slashes. */
  readonly path: string;
  /**
   * UTF-8 text without BOM, LF line endings, secrets redacted. With `HarvestOptions.corpusDir` this is read from
   * disk on each access (memory stays flat in repository size); read it once per use.
   */
  readonly text: string;
  /** VS Code language id ('typescript', 'python', …), 'plaintext' when unknown. */
  readonly language: string;
  readonly split: Split;
  /** UTF-8 bytes of `text` (set by harvest(); optional so hand-made files in tests and tools stay simple). */
  readonly bytes?: number;
  /** sha256 of `text` (hex), the name of its object in the corpus store (set by harvest()). */
  readonly sha256?: string;
}

/** Why a file was left out. Stable strings: the manifest counts them and users read them. */
export type ExclusionReason =
  | 'symlink'
  | 'outside-workspace'
  | 'submodule'
  | 'not-a-file'
  | 'missing'
  | 'repotuneignore'
  | 'excluded-by-setting'
  | 'language-not-selected'
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
  | 'secret'
  | 'duplicate'
  | 'near-duplicate'
  | 'near-duplicate-of-holdout';

export interface Exclusion {
  readonly path: string;
  readonly reason: ExclusionReason;
}

/** What to do with a file in which a secret was found. */
export type SecretsMode = 'redact' | 'drop';

export interface HarvestOptions {
  /** Threads for reading and scanning files: 0 = the calling thread only; default: one per core for large repositories. */
  readonly workers?: number;
  /** The files changed by this many newest commits are the holdout (default 1; ignored when holdoutDays is set). */
  readonly holdoutCommits?: number;
  /** The files changed by the commits of the last D days before HEAD's commit date are the holdout. */
  readonly holdoutDays?: number;
  /** Share of files held out by path hash when commits cannot decide (default 0.1). */
  readonly holdoutFraction?: number;
  /** Larger files are left out as 'too-large' without being read (default MAX_FILE_BYTES). */
  readonly maxFileBytes?: number;
  /** gitignore-style globs: when given, only files matching one of them are harvested. */
  readonly include?: readonly string[];
  /** gitignore-style globs of files to leave out ('excluded-by-setting'). */
  readonly exclude?: readonly string[];
  /** VS Code language ids to keep (e.g. ['typescript', 'python']); other files are 'language-not-selected'. */
  readonly languages?: readonly string[];
  /** 'redact' (default) replaces each secret by `<REDACTED:rule>`; 'drop' leaves the whole file out. */
  readonly secrets?: SecretsMode;
  /**
   * Folder for the kept texts (one pack file, texts.pack). Without it texts stay in memory; with it memory
   * stays flat in repository size and `HarvestedFile.text` reads from this folder.
   */
  readonly corpusDir?: string;
  readonly signal?: AbortSignal;
  /**
   * Use the native plain-file scan when it is built (default). false: JavaScript for every file — the same
   * result, slower (tests and bench/harvest compare the two).
   */
  readonly nativeScan?: boolean;
}

export type HoldoutRule = 'newest-commits' | 'newest-days' | 'path-hash';

export interface HarvestManifest {
  /** HEAD commit harvested, null for a folder without git or a repository without commits. */
  readonly commit: string | null;
  /** The settings that shaped this result (with the commit they make the manifest reproducible). */
  readonly settings: {
    readonly include: readonly string[];
    readonly exclude: readonly string[];
    readonly languages: readonly string[];
    readonly secrets: SecretsMode;
    readonly maxFileBytes: number;
    readonly holdout: string;
  };
  /** Files discovered. */
  readonly filesIn: number;
  /** Files kept (train + holdout). */
  readonly filesOut: number;
  readonly filesExcluded: number;
  readonly byReason: Record<string, number>;
  /** Bytes (on disk) of the files that were read. */
  readonly bytesIn: number;
  /** UTF-8 bytes of the kept files' text. */
  readonly bytes: number;
  /** Kept files per language id. */
  readonly languages: Record<string, number>;
  /** Secrets found per rule id (redacted, or their files dropped); the secrets themselves are never stored. */
  readonly secretsRedacted: Record<string, number>;
  readonly trainFiles: number;
  readonly holdoutFiles: number;
  readonly holdoutBytes: number;
  /** How the holdout was chosen. */
  readonly holdoutRule: HoldoutRule;
}

export interface HarvestResult {
  readonly files: HarvestedFile[];
  readonly excluded: Exclusion[];
  readonly notices: string[];
  readonly manifest: HarvestManifest;
}

export class HarvestError extends Error {}
