/**
 * The native plain-file scan (server/native, a Rust Node-API addon built into dist/harvestNative.node): for a file
 * that decodes to its own bytes and that no secret rule could match, it returns what the JavaScript path would —
 * SHA-256 and MinHash signature — at several times the speed. Every other file still takes the JavaScript path,
 * which alone decides outcomes, so the harvest's result is the same with or without the addon
 * (test/unit/harvestNative.test.ts). Without the addon (another platform, no Rust toolchain at build time, or
 * REPOTUNE_HARVEST_NATIVE=0) everything runs in JavaScript.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HEURISTIC_RULES, SPECIFIC_RULES, type SecretRule } from './secrets';
import { PRESET_KEYWORDS } from './secretlint';

/** The addon's file name, beside or above the bundle that loads it (as harvestWorker.js). */
export const NATIVE_FILE = 'harvestNative.node';
/** Set to 0 to harvest with JavaScript only (benchmarks compare the two). */
export const NATIVE_ENV = 'REPOTUNE_HARVEST_NATIVE';

export interface PlainFile {
  readonly sha256: string;
  readonly signature: Uint32Array | null;
}

interface Addon {
  PlainFileScanner: new (anywhere: string[], assignment: string[]) => { scan(bytes: Uint8Array): PlainFile | null };
  minhashParameters(): number[];
  minhashSignature(text: string): Uint32Array | null;
}

/**
 * The rule shapes the addon's gate knows (server/native/src/gate.rs): the assignment rules it follows after their
 * keywords, and the one rule that runs without a keyword. A rule set that differs turns the addon off.
 */
const KNOWN_ASSIGNMENT_RULES: Readonly<Record<string, SecretRule['scope']>> = {
  'generic-secret-assignment': 'after-keyword',
  'config-secret': 'keyword-line',
};
const KNOWN_KEYWORDLESS_RULES = ['high-entropy-string'];

/** Why the rule tables do not fit the addon's gate (empty when they do). */
export function gateMismatches(rules: readonly SecretRule[] = [...SPECIFIC_RULES, ...HEURISTIC_RULES]): string[] {
  const problems: string[] = [];
  for (const r of rules) {
    const scoped = r.scope !== undefined && r.scope !== 'text';
    if (scoped && KNOWN_ASSIGNMENT_RULES[r.id] !== r.scope) problems.push(`${r.id}: scope '${r.scope}' is not one the native gate follows`);
    if (!scoped && r.id in KNOWN_ASSIGNMENT_RULES) problems.push(`${r.id}: the native gate expects scope '${KNOWN_ASSIGNMENT_RULES[r.id]}'`);
    if (!r.keywords && !KNOWN_KEYWORDLESS_RULES.includes(r.id)) problems.push(`${r.id}: runs without keywords, which the native gate cannot check`);
  }
  return problems;
}

/**
 * The keywords whose any occurrence sends a file to JavaScript (rules that search the whole text, and secretlint's
 * preset), and those that only matter as the name in an assignment.
 */
export function gateKeywords(rules: readonly SecretRule[] = [...SPECIFIC_RULES, ...HEURISTIC_RULES]): { anywhere: string[]; assignment: string[] } {
  const anywhere = new Set<string>(PRESET_KEYWORDS);
  for (const r of rules) if (r.scope === undefined || r.scope === 'text') for (const k of r.keywords ?? []) anywhere.add(k);
  const assignment = new Set<string>();
  for (const r of rules) if (r.scope !== undefined && r.scope !== 'text') for (const k of r.keywords ?? []) if (!anywhere.has(k)) assignment.add(k);
  return { anywhere: [...anywhere], assignment: [...assignment] };
}

let addon: Addon | null | undefined;

/** The loaded addon, or null (not built for this platform, disabled, or failed to load). */
export function loadAddon(): Addon | null {
  if (addon !== undefined) return addon;
  addon = null;
  if (process.env[NATIVE_ENV] === '0') return addon;
  const file = [__dirname, path.dirname(__dirname)].map((dir) => path.join(dir, NATIVE_FILE)).find((f) => fs.existsSync(f));
  if (!file) return addon;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a binary addon is loaded by path at run time
    addon = require(file) as Addon;
  } catch {
    addon = null; // built for another platform or Node-API version: the JavaScript path does the same work
  }
  return addon;
}

/** The scan for plain files, or undefined when the harvest must use JavaScript for every file. */
export function plainFileScanner(): ((bytes: Uint8Array) => PlainFile | null) | undefined {
  const native = loadAddon();
  if (!native || gateMismatches().length > 0) return undefined;
  const { anywhere, assignment } = gateKeywords();
  const scanner = new native.PlainFileScanner(anywhere, assignment);
  return (bytes) => scanner.scan(bytes);
}
