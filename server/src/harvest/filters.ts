/**
 * Rules that leave a file out of training, each with the reason the manifest reports. Path rules run first (cheap,
 * no read); content rules run on the bytes. Everything here aims at one thing: the model should learn the code
 * people on this repository write, not what tools, package managers or other projects wrote for them.
 *
 * (This header is kept free of the generated-file marker words: the generated-file rule only scans a file's first
 * lines, and RepoTune harvests its own repository in the demo.)
 */
import type { ExclusionReason } from './types';

/** Files above this size are left out: large files are almost always data or generated. */
export const MAX_FILE_BYTES = 1024 * 1024;
/** A NUL byte in this many leading bytes marks a binary file (git's own heuristic). */
export const BINARY_SNIFF_BYTES = 8 * 1024;
/** Average line length above which a file counts as minified. */
export const MINIFIED_AVG_LINE_CHARS = 200;
/** Files shorter than this are never judged minified by their line length (one long line is fine in a small file). */
export const MINIFIED_MIN_CHARS = 1000;
/** Generated-file markers are only looked for in this many leading lines (tools put them in the header). */
export const GENERATED_HEADER_LINES = 10;

const VENDORED_DIRS = new Set([
  'node_modules', 'bower_components', 'jspm_packages', 'vendor', 'third_party', 'thirdparty', 'third-party',
  'dist', 'build', 'out', 'target', '.venv', 'venv', '.tox', '.nox', '__pycache__', 'site-packages',
  '.mypy_cache', '.pytest_cache', '.next', '.nuxt', '.svelte-kit', '.gradle', 'Pods', 'Carthage', 'coverage',
  '.terraform', '.yarn', '.pnpm-store', '.cache', '.vscode-test',
]);

const LOCK_FILES = new Set([
  'package-lock.json', 'npm-shrinkwrap.json', 'yarn.lock', 'pnpm-lock.yaml', 'bun.lockb', 'bun.lock', 'Cargo.lock',
  'poetry.lock', 'Pipfile.lock', 'pdm.lock', 'uv.lock', 'composer.lock', 'Gemfile.lock', 'go.sum', 'mix.lock',
  'flake.lock', 'Podfile.lock', 'pubspec.lock', 'packages.lock.json', 'gradle.lockfile', 'Package.resolved',
  'conda-lock.yml', 'deno.lock',
]);

const DATA_EXTENSIONS = new Set([
  '.csv', '.tsv', '.parquet', '.npy', '.npz', '.pkl', '.pickle', '.h5', '.hdf5', '.arrow', '.feather', '.avro',
  '.orc', '.db', '.sqlite', '.sqlite3', '.jsonl', '.ndjson', '.xls', '.xlsx', '.tfrecord', '.pt', '.pth', '.ckpt',
  '.safetensors', '.onnx', '.bin', '.dat', '.mat', '.gguf', '.log',
]);

/** Names of files code generators write. */
const GENERATED_NAME_PATTERNS: readonly RegExp[] = [
  /\.pb\.go$/, /_pb2(_grpc)?\.pyi?$/, /\.pb\.(cc|h)$/, /_pb\.(js|d\.ts)$/, /_grpc_pb\.(js|d\.ts)$/, /\.map$/,
  /\.g\.dart$/, /\.freezed\.dart$/, /\.designer\.cs$/, /\.g\.cs$/, /\.generated\.\w+$/, /_generated\.\w+$/,
];
/** The patterns above as one: each file's name is tested once, not once per pattern. */
const GENERATED_NAME = new RegExp(GENERATED_NAME_PATTERNS.map((re) => `(?:${re.source})`).join('|'));
const MINIFIED_NAME = /[.-]min\.(js|mjs|cjs|css)$/;
const GENERATED_MARKERS: readonly RegExp[] = [/@generated\b/, /\bDO NOT EDIT\b/i, /\bCode generated\b/, /\bauto-?generated\b/i];
const LFS_POINTER_PREFIX = 'version https://git-lfs.github.com/spec/v1';

/** The reason a path alone excludes a file, or undefined. */
export function pathExclusion(relPath: string): ExclusionReason | undefined {
  const lastSlash = relPath.lastIndexOf('/');
  for (let from = 0; from < lastSlash; ) {
    const slash = relPath.indexOf('/', from);
    if (VENDORED_DIRS.has(relPath.slice(from, slash))) return 'vendored';
    from = slash + 1;
  }
  const name = relPath.slice(lastSlash + 1);
  if (LOCK_FILES.has(name)) return 'lock-file';
  const dot = name.lastIndexOf('.');
  if (dot > 0 && DATA_EXTENSIONS.has(name.slice(dot).toLowerCase())) return 'data-file';
  if (MINIFIED_NAME.test(name)) return 'minified';
  if (GENERATED_NAME.test(name)) return 'generated';
  return undefined;
}

/** `changed`: the text is not the bytes' plain decoding (a BOM or CRs were removed), so the bytes cannot stand for it. */
export type Decoded = { ok: true; text: string; changed: boolean } | { ok: false; reason: ExclusionReason };

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Bytes → normalised text (no BOM, LF endings), or the reason the content excludes the file. */
export function decodeContent(bytes: Uint8Array): Decoded {
  if (bytes.subarray(0, BINARY_SNIFF_BYTES).includes(0)) return { ok: false, reason: 'binary' };
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { ok: false, reason: 'not-utf8' };
  }
  if (text.startsWith(LFS_POINTER_PREFIX)) return { ok: false, reason: 'lfs-pointer' };
  let changed = false;
  if (text.charCodeAt(0) === 0xfeff) {
    text = text.slice(1);
    changed = true;
  }
  if (text.includes('\r')) {
    text = text.replace(/\r\n?/g, '\n'); // the test is one native scan; most files have no CR
    changed = true;
  }
  if (text.trim().length === 0) return { ok: false, reason: 'empty' };
  if (isMinified(text)) return { ok: false, reason: 'minified' };
  if (hasGeneratedMarker(text)) return { ok: false, reason: 'generated' };
  return { ok: true, text, changed };
}

// Both below find newlines with indexOf rather than split('\n'): splitting built an array of every line of every
// harvested file only to count or join a few of them.
function isMinified(text: string): boolean {
  if (text.length < MINIFIED_MIN_CHARS) return false;
  // Minified iff lines < length / MINIFIED_AVG_LINE_CHARS: stop counting as soon as there are enough lines.
  const enough = text.length / MINIFIED_AVG_LINE_CHARS;
  let lines = 1;
  for (let at = text.indexOf('\n'); at !== -1 && lines < enough; at = text.indexOf('\n', at + 1)) lines++;
  return lines < enough;
}

function hasGeneratedMarker(text: string): boolean {
  let end = -1;
  for (let line = 0; line < GENERATED_HEADER_LINES; line++) {
    end = text.indexOf('\n', end + 1);
    if (end === -1) break;
  }
  const header = end === -1 ? text : text.slice(0, end);
  return GENERATED_MARKERS.some((re) => re.test(header));
}
