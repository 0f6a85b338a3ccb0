/**
 * The native scan (server/native, a Rust Node-API addon built into dist/harvestNative.node): for a file that
 * decodes to its own bytes and that no secret rule could match it returns what the JavaScript path would — SHA-256
 * and MinHash signature — and it decides the content exclusions JavaScript would (binary, minified, generated…),
 * at several times the speed; with threads it also reads the files and appends them to the corpus pack (pool.ts).
 * Every other file still takes the JavaScript path, which alone decides secrets, so the harvest's result is the
 * same with or without the addon (test/unit/harvestNative.test.ts). Without it (another platform, no Rust toolchain
 * at build time, or REPOTUNE_HARVEST_NATIVE=0) everything runs in JavaScript.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HEURISTIC_RULES, SPECIFIC_RULES, type SecretRule } from './secrets';
import { SECRETLINT_KEYWORDS } from './secretlint';
import type { ExclusionReason } from './types';

/** The addon's file name, beside or above the bundle that loads it (as harvestWorker.js). */
export const NATIVE_FILE = 'harvestNative.node';
/** Set to 0 to harvest with JavaScript only (benchmarks compare the two). */
export const NATIVE_ENV = 'REPOTUNE_HARVEST_NATIVE';

export interface PlainFile {
  readonly sha256: string;
  readonly signature: Uint32Array | null;
}

/** What `scanFiles` settled, per path in the order given (server/native/src/node.rs ScannedBatch). */
export interface ScannedBatch {
  /**
   * 0: JavaScript must read and decide the file; 1: settled, too short for a signature; 2: settled, signed;
   * EXCLUDED_STATUS + r: left out for `exclusionReasons()[r]` (its length is the bytes read).
   */
  readonly status: Uint8Array;
  /** 32 bytes per path: a settled file's SHA-256. */
  readonly sha256: Uint8Array;
  /** SIGNATURE_BINS values per path: a signed file's MinHash signature. */
  readonly signatures: Uint32Array;
  readonly lengths: number[];
  /** With a pack: where each settled file's bytes were appended. */
  readonly offsets: number[];
  /** Without a pack: each settled file's bytes. */
  readonly contents: (Uint8Array | null)[] | null;
}

/** The corpus pack file, appended to by the store and the native scan alike (server/native/src/pack.rs). */
export interface PackWriter {
  append(bytes: Uint8Array): number;
}

export interface NativeScanner {
  /** The hash and signature of a plain file's bytes, or null when JavaScript must decide the file. */
  scan(bytes: Uint8Array): PlainFile | null;
  /**
   * Reads and scans files (relative to `root`) on a libuv thread, as read.ts would read them, and settles the
   * plain ones; JavaScript must read and decide the rest (a link, a non-file, too large, not plain). Settled
   * files' bytes go to `pack` when given.
   */
  scanFiles(root: string, paths: readonly string[], maxBytes: number, pack?: PackWriter): Promise<ScannedBatch>;
}

/** ScannedBatch.status of a file left out: this plus the index of its reason (server/native/src/node.rs). */
export const EXCLUDED_STATUS = 16;

/**
 * The addon interface this code expects (server/native/src/node.rs INTERFACE_VERSION). An addon that reports
 * another version, or none (built before the handshake), is not used: the harvest runs in JavaScript instead.
 */
export const NATIVE_INTERFACE_VERSION = 5;

interface Addon {
  interfaceVersion(): number;
  PlainFileScanner: new (checks: Record<string, string[]>) => NativeScanner;
  exclusionReasons(): string[];
  PackWriter: new (path: string) => PackWriter;
  minhashParameters(): number[];
  minhashSignature(utf8: Uint8Array): Uint32Array | null;
  dedupe(sha256: Uint8Array, signatures: Uint32Array, signed: Uint8Array, minShare: number): Int32Array;
  refusesLinkedFolders(): boolean;
}

/**
 * The checks the addon's gate (server/native/src/shapes.rs) gives a keyword's occurrences instead of sending every
 * file that holds it to JavaScript: each re-states the first part of the listed rules' patterns, for the listed
 * keywords (all of the rules' keywords when none are listed). A keyword that any other rule uses is checked
 * 'anywhere' — any occurrence is a yes — so a new or changed rule costs speed, never a missed secret.
 */
const SHAPE_CHECKS: readonly { check: string; rules: readonly string[]; keywords?: readonly string[] }[] = [
  { check: 'assignment', rules: ['generic-secret-assignment', 'config-secret'] },
  { check: 'url-credentials', rules: ['url-password', 'basicauth'], keywords: ['://'] },
  { check: 'aws-secret', rules: ['aws-secret-access-key', 'aws'], keywords: ['secret'] },
  { check: 'sendgrid', rules: ['sendgrid'], keywords: ['sg.'] },
  { check: 'stripe', rules: ['stripe-key'], keywords: ['_live_', '_test_'] },
  { check: 'huggingface', rules: ['huggingface-token'], keywords: ['hf_'] },
  // Case-sensitive patterns whose keywords, searched without case, turn up in prose: "Asia", "risk-free", "the
  // private key". These were 60% of the bytes sent to JavaScript in a corpus of real Python code.
  { check: 'private-key', rules: ['private-key', 'privatekey'], keywords: ['private key'] },
  { check: 'aws-key-id', rules: ['aws-access-key-id'] },
  { check: 'openai-key', rules: ['openai-style-key'], keywords: ['sk-'] },
  { check: 'google-api-key', rules: ['google-api-key'], keywords: ['aiza'] },
];
/**
 * The scopes the checks assume for the rules that have one: the assignment check starts at the keyword's end, and
 * 'before-keyword' finds what a whole-text scan finds (it only runs the pattern in fewer places). And the one rule
 * without keywords.
 */
const RULE_SCOPES: Readonly<Record<string, SecretRule['scope']>> = {
  'generic-secret-assignment': 'after-keyword',
  'config-secret': 'keyword-line',
  'url-password': 'before-keyword',
};
const KNOWN_KEYWORDLESS_RULES = ['high-entropy-string'];

/** Why the rule tables do not fit the addon's gate (empty when they do): the addon is then not used. */
export function gateMismatches(rules: readonly SecretRule[] = [...SPECIFIC_RULES, ...HEURISTIC_RULES]): string[] {
  const problems: string[] = [];
  for (const r of rules) {
    const scoped = r.scope !== undefined && r.scope !== 'text';
    if (scoped && RULE_SCOPES[r.id] !== r.scope) problems.push(`${r.id}: scope '${r.scope}' is not one the native gate follows`);
    if (!scoped && r.id in RULE_SCOPES) problems.push(`${r.id}: the native gate expects scope '${RULE_SCOPES[r.id]}'`);
    if (!r.keywords && !KNOWN_KEYWORDLESS_RULES.includes(r.id)) problems.push(`${r.id}: runs without keywords, which the native gate cannot check`);
  }
  return problems;
}

/** Check name → the keywords whose occurrences get it, for RepoTune's rules and secretlint's preset. */
export function gateChecks(
  rules: readonly SecretRule[] = [...SPECIFIC_RULES, ...HEURISTIC_RULES],
  preset: Readonly<Record<string, readonly string[]>> = SECRETLINT_KEYWORDS,
): Record<string, string[]> {
  const uses = [...rules.map((r) => [r.id, r.keywords ?? []] as const), ...Object.entries(preset)];
  const checksOf = new Map<string, Set<string>>();
  for (const [rule, keywords] of uses) {
    for (const k of keywords) {
      const shape = SHAPE_CHECKS.find((c) => c.rules.includes(rule) && (!c.keywords || c.keywords.includes(k)));
      const set = checksOf.get(k) ?? new Set<string>();
      set.add(shape?.check ?? 'anywhere');
      checksOf.set(k, set);
    }
  }
  const out: Record<string, string[]> = {};
  for (const [k, set] of checksOf) for (const check of set.has('anywhere') ? ['anywhere'] : set) (out[check] ??= []).push(k);
  return out;
}

/** Whether a loaded module is an addon of the interface this code expects. */
export function isCurrentAddon(loaded: unknown): loaded is Addon {
  const version = (loaded as Partial<Addon> | null)?.interfaceVersion;
  return typeof version === 'function' && version() === NATIVE_INTERFACE_VERSION;
}

let addon: Addon | null | undefined;
/** Why an addon beside the bundle is not used, when the fix is a rebuild (see nativeNotice). */
let staleAddon: string | undefined;

/** The loaded addon, or null (not built for this platform, disabled, or failed to load). */
export function loadAddon(): Addon | null {
  if (addon !== undefined) return addon;
  addon = null;
  if (process.env[NATIVE_ENV] === '0') return addon;
  const file = [__dirname, path.dirname(__dirname)].map((dir) => path.join(dir, NATIVE_FILE)).find((f) => fs.existsSync(f));
  if (!file) return addon;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a binary addon is loaded by path at run time
    const loaded: unknown = require(file);
    if (isCurrentAddon(loaded)) addon = loaded;
    else staleAddon = file; // left by an older build: the JavaScript path does the same work, slower
  } catch {
    addon = null; // built for another platform or Node-API version: the JavaScript path does the same work
  }
  return addon;
}

/**
 * A line for the harvest's notices when the addon was there and not used: it is from an older build, or the secret
 * rules changed in a way its gate does not follow (test/unit/harvestNative.test.ts fails on that first).
 */
export function nativeNotice(): string | undefined {
  const native = loadAddon();
  if (staleAddon) {
    return `The native harvest scan (${staleAddon}) is from an older build and was not used: the harvest ran in JavaScript, which is slower. Rebuild with \`node esbuild.mjs\` (it needs cargo).`;
  }
  const mismatches = native ? gateMismatches() : [];
  return mismatches.length > 0
    ? `The native harvest scan was not used, because its gate does not follow the secret rules (${mismatches.join('; ')}): the harvest ran in JavaScript, which is slower.`
    : undefined;
}

let scanner: NativeScanner | null | undefined;

/** The native scanner (one per thread), or undefined when the harvest must use JavaScript for every file. */
export function nativeScanner(): NativeScanner | undefined {
  if (scanner === undefined) {
    const native = loadAddon();
    scanner = native && gateMismatches().length === 0 ? new native.PlainFileScanner(gateChecks()) : null;
  }
  return scanner ?? undefined;
}

/**
 * Whether the native scan itself refuses to read through a link in any folder of a path (openat2 on Linux ≥ 5.6;
 * server/native/src/open.rs): then JavaScript need not lstat every folder before handing paths over.
 */
export function nativeRefusesLinkedFolders(): boolean {
  return loadAddon()?.refusesLinkedFolders() ?? false;
}

/** The exclusion reasons the native scan decides, by their index in ScannedBatch.status (empty without it). */
export function exclusionReasons(): ExclusionReason[] {
  return (loadAddon()?.exclusionReasons() ?? []) as ExclusionReason[];
}

/** A writer for the pack at `file` (which exists), or undefined without the addon. */
export function packWriter(file: string): PackWriter | undefined {
  const native = nativeScanner() && loadAddon();
  return native ? new native.PackWriter(file) : undefined;
}

/** The addon's MinHash signature of a text's UTF-8 bytes (neardup.ts's function), or undefined without the addon. */
export function nativeMinhash(): ((utf8: Uint8Array) => Uint32Array | undefined) | undefined {
  const native = nativeScanner() && loadAddon();
  return native ? (utf8) => native.minhashSignature(utf8) ?? undefined : undefined;
}

/** The scan for plain files' bytes, or undefined when the harvest must use JavaScript for every file. */
export function plainFileScanner(): ((bytes: Uint8Array) => PlainFile | null) | undefined {
  const native = nativeScanner();
  return native && ((bytes) => native.scan(bytes));
}

/**
 * The addon's deduplication (server/native/src/dedupe.rs, dedupe.ts's decisions): per file in priority order, -1
 * (kept) or the index of the earlier kept file it copies or nearly copies; undefined without the addon.
 */
export function nativeDedupe(): Addon['dedupe'] | undefined {
  const native = loadAddon();
  return native ? (sha256, signatures, signed, minShare) => native.dedupe(sha256, signatures, signed, minShare) : undefined;
}
