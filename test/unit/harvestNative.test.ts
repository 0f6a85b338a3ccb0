/**
 * The native plain-file scan changes the harvest's speed, never its result: for every file it accepts, the
 * JavaScript path gives the same hash, signature and bytes, and it hands every file with a possible secret or an
 * unusual encoding back to JavaScript. Checked on planted secrets, generated tricky texts and this repository.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mulberry32 } from '../../server/src/examples/prng';
import { FileWork, type FileOutcome } from '../../server/src/harvest/fileWork';
import { harvest } from '../../server/src/harvest/harvest';
import { exclusionReasons, gateChecks, gateMismatches, isCurrentAddon, loadAddon, NATIVE_INTERFACE_VERSION, plainFileScanner } from '../../server/src/harvest/native';
import { MIN_SHINGLES, minhashSignature, SHINGLE_TOKENS, SIGNATURE_BINS } from '../../server/src/harvest/neardup';
import {
  CODE_EXPRESSION,
  CONFIG_SECRET_MIN_ENTROPY,
  GENERIC_SECRET_MIN_ENTROPY,
  HEURISTIC_RULES,
  HIGH_ENTROPY_MIN_BITS,
  HIGH_ENTROPY_MIN_LENGTH,
  SPECIFIC_RULES,
} from '../../server/src/harvest/secrets';
import { SECRETLINT_KEYWORDS } from '../../server/src/harvest/secretlint';
import { commitAll, git, outsideTempDir, removeDir, writeFiles } from '../helpers/gitFixture';
import { REPO_ROOT } from '../helpers/paths';
import { plantedSecretCorpus } from '../helpers/plantedSecrets';

/** The addon is built wherever cargo is (scripts/build-native.mjs); elsewhere these tests have nothing to compare. */
const hasCargo = spawnSync('cargo', ['--version'], { stdio: 'ignore' }).status === 0;
const skip = hasCargo ? false : 'no Rust toolchain: the harvest runs in JavaScript only';

function addon() {
  const a = loadAddon();
  assert.ok(a, 'harvestNative.node is built beside the test bundles (node esbuild.mjs --tests)');
  return a;
}

test('an addon of another interface version, or of none, is not used', () => {
  const current = { interfaceVersion: () => NATIVE_INTERFACE_VERSION };
  assert.ok(isCurrentAddon(current));
  for (const stale of [{ interfaceVersion: () => NATIVE_INTERFACE_VERSION - 1 }, { minhashParameters: () => [] }, null, undefined, 'x']) {
    assert.equal(isCurrentAddon(stale), false, JSON.stringify(stale));
  }
});

test('the addon loads, agrees on the MinHash parameters and knows every secret rule shape', { skip }, () => {
  assert.equal(addon().interfaceVersion(), NATIVE_INTERFACE_VERSION);
  assert.deepEqual(addon().minhashParameters(), [SIGNATURE_BINS, SHINGLE_TOKENS, MIN_SHINGLES]);
  assert.deepEqual(gateMismatches(), []);
  assert.ok(plainFileScanner(), 'the harvest uses it');
  // A new rule shape turns the addon off rather than letting it skip files that rule would flag.
  const extra = { id: 'new-rule', pattern: /x/dg, group: 0, scope: 'keyword-line' as const, keywords: ['new'] };
  assert.match(gateMismatches([...SPECIFIC_RULES, ...HEURISTIC_RULES, extra]).join('\n'), /new-rule/);
  assert.match(gateMismatches([{ id: 'keywordless', pattern: /x/dg, group: 0 }]).join('\n'), /keywordless/);
  const checks = gateChecks();
  assert.deepEqual(checks['url-credentials'], ['://']);
  assert.deepEqual(checks.sendgrid, ['sg.']);
  assert.ok(checks.anywhere.includes('eyj') && checks.assignment.includes('password'));
  assert.deepEqual(checks['private-key'], ['private key']);
  assert.deepEqual(checks['aws-key-id'], ['akia', 'asia', 'abia', 'acca', 'agpa', 'aida', 'aroa', 'a3t']);
  assert.deepEqual([checks['openai-key'], checks['google-api-key']], [['sk-'], ['aiza']]);
  assert.ok(checks['aws-secret'].includes('secret') && checks.assignment.includes('secret'), "'secret' gets both checks");
  assert.ok(!checks.anywhere.some((k) => Object.entries(checks).some(([c, ks]) => c !== 'anywhere' && ks.includes(k))), "'anywhere' needs no other check");
  // Another preset rule on '://' makes every URL a reason for JavaScript again.
  const widened = gateChecks(undefined, { ...SECRETLINT_KEYWORDS, newrule: ['://'] });
  assert.equal(widened['url-credentials'], undefined);
  assert.ok(widened.anywhere.includes('://'));
});

test('the patterns the native gate follows are the ones it was written for', () => {
  // server/native/src/shapes.rs and gate.rs re-state these patterns' first parts as superset checks: change both together.
  const followed: Record<string, string> = {
    'aws-secret-access-key':
      "aws_?secret_?(?:access_?)?key[\"']?\\s*[:=]\\s*[\"']?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])",
    'stripe-key': "\\b((?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,})\\b",
    'huggingface-token': "\\b(hf_[A-Za-z0-9]{34,})\\b",
    'url-password':
      "\\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}:\\/\\/[^\\s:/@\"'`]{0,100}:([^\\s@/\"'`]{3,200})@(?!(?:[\\w-]+\\.)*example\\.(?:com|org|net)\\b)[^\\s/\"'`]",
    'generic-secret-assignment': "[\"']?\\s*(?::=|=>|[:=])\\s*[\"'`]([^\"'`\\s]{12,200})[\"'`]",
    'config-secret':
      "^[ \\t-]*(?:export\\s+)?[\\w.-]*(?:password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?)[\\w.-]*[ \\t]*[:=][ \\t]*([^\\s\"'`#][^\\s#]{7,200})[ \\t]*$",
    'high-entropy-string': "[\"'`]([A-Za-z0-9+/_=-]{32,512})[\"'`]",
    'private-key': String.raw`-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY( BLOCK)?-----[\s\S]*?-----END \1PRIVATE KEY( BLOCK)?-----`,
    'aws-access-key-id': String.raw`\b((?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|A3T[A-Z0-9])[0-9A-Z]{16})\b`,
    'openai-style-key': String.raw`\b(sk-(?:proj-|ant-(?:api\d\d-|admin\d\d-)?|svcacct-)?[A-Za-z0-9_-]{20,})\b`,
    'google-api-key': String.raw`\b(AIza[0-9A-Za-z_-]{35})\b`,
  };
  for (const r of [...SPECIFIC_RULES, ...HEURISTIC_RULES]) if (r.id in followed) assert.equal(r.pattern.source, followed[r.id], r.id);
  // The checks for these compare case exactly: an /i flag would let other spellings match.
  for (const id of ['private-key', 'aws-access-key-id', 'openai-style-key', 'google-api-key', 'stripe-key', 'huggingface-token']) {
    assert.ok(!SPECIFIC_RULES.find((r) => r.id === id)?.pattern.flags.includes('i'), `${id} is case-sensitive`);
  }
  const checked = Object.keys(followed).length;
  assert.equal([...SPECIFIC_RULES, ...HEURISTIC_RULES].filter((r) => r.id in followed).length, checked, 'every followed rule still exists');
  // …and secretlint's preset rules that shapes.rs follows (the preset's version is pinned in package.json).
  const presetDir = path.join(REPO_ROOT, 'node_modules', '@secretlint', 'secretlint-rule-preset-recommend', 'module');
  const presetSource = fs.readdirSync(presetDir).filter((f) => f.endsWith('.js')).map((f) => fs.readFileSync(path.join(presetDir, f), 'utf8')).join('\n');
  for (const literal of [
    String.raw`/(?<protocol>(?:https?|ftp|ftps)):\/\/(?<user>[-a-zA-Z0-9_]{1,256}):(?<password>[-a-zA-Z0-9_]{1,256})@`,
    String.raw`/(?<![A-Za-z])SG\.\w{1,128}\.\w{1,128}([-_]?)\w{1,128}/g`,
    '(?:SECRET|secret|Secret)_?(?:ACCESS|access|Access)_?(?:KEY|key|Key)${QUOTE}${CONNECT}',
    String.raw`/-----BEGIN\s?(DSA|RSA|EC|PGP|OPENSSH)?\s?PRIVATE KEY/gm`,
    String.raw`/-----BEGIN\s?((?:DSA|RSA|EC|PGP|OPENSSH|[A-Z]{2,16})?\s?PRIVATE KEY(\sBLOCK)?)-----[\s\S]{1,10000}?-----END\s?\1-----/gm`,
  ]) {
    assert.ok(presetSource.includes(literal), `secretlint's preset changed: re-check server/native/src/shapes.rs (${literal})`);
  }
  assert.deepEqual([HIGH_ENTROPY_MIN_LENGTH, HIGH_ENTROPY_MIN_BITS, GENERIC_SECRET_MIN_ENTROPY, CONFIG_SECRET_MIN_ENTROPY], [32, 4.5, 3.5, 3.0]);
  // config-secret's acceptance test that shapes.rs re-states (is_code_expression).
  assert.equal(CODE_EXPRESSION.source, String.raw`[()[\]{};,]$|\(|^[A-Za-z_$][\w$]*(?:\.[\w$]+)+[,;]?$`);
});

/** Texts that stress UTF-16 vs UTF-8: astral characters (two units), CJK, combining marks, Unicode spaces. */
function unicodeTexts(n: number): string[] {
  const rng = mulberry32(5);
  const pieces = ['let ', 'x', '=', ' ', '\n', '😀', '𝔘', '中文', 'é', 'e\u0301', '\u00a0', '\u2028', '_', '(', ')', '"', 'ß', '\t', 'λ', '1'];
  return Array.from({ length: n }, () => Array.from({ length: 40 + Math.floor(rng() * 400) }, () => pieces[Math.floor(rng() * pieces.length)]).join(''));
}

function sourceTexts(): string[] {
  const dir = path.join(REPO_ROOT, 'server', 'src');
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => fs.readFileSync(path.join(e.parentPath, e.name), 'utf8'));
}

test('native MinHash equals the JavaScript one bit for bit', { skip }, () => {
  const texts = [...sourceTexts(), ...unicodeTexts(300), '', 'a b c', 'word '.repeat(MIN_SHINGLES + SHINGLE_TOKENS - 2)];
  let signed = 0;
  for (const text of texts) {
    const utf8 = Buffer.from(text, 'utf8');
    const js = minhashSignature(utf8);
    const native = addon().minhashSignature(utf8);
    assert.deepEqual(native ? [...native] : undefined, js ? [...js] : undefined, text.slice(0, 80));
    if (js) signed++;
  }
  assert.ok(signed > texts.length / 2, `${signed} of ${texts.length} texts long enough to sign`);
});

const WORD = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_';
const AWS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/+=';

/** Generated texts around the gate's edges: keywords in assignment shapes and not, quotes, odd spaces and encodings. */
function trickyFiles(n: number): Record<string, string | Uint8Array> {
  const rng = mulberry32(17);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rng() * xs.length)];
  const { anywhere, assignment } = gateChecks();
  const exact = (n: number, alphabet: string) => Array.from({ length: n }, () => alphabet[Math.floor(rng() * alphabet.length)]).join('');
  const host = () => pick(['db', 'h.io', 'example.com', 'x.org:8080']);
  const url = () => `${pick(['https', 'postgres', 'ftp', 'git+ssh'])}://${pick(['', `${value().slice(0, 6)}:`, `${value().slice(0, 6)}:${value()}@`, `u:${value()}@`])}${host()}/${value().slice(0, 5)}`;
  const caseOf = (w: string) => [...w].map((c) => (rng() < 0.3 ? c.toUpperCase() : c)).join('');
  const value = () => {
    const alphabet = pick(['abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 'abcXYZ0123456789', 'aZ09/+_-=.x$#{', 'aZ09é—▁😀\u00a0\u2028\ufeff', 'αβγδεζηθικλμνξ']);
    return Array.from({ length: 4 + Math.floor(rng() * 40) }, () => alphabet[Math.floor(rng() * alphabet.length)]).join('');
  };
  const ops = [' = ', '=', ': ', ' := ', ' => ', ':', ' == ', ' ', '\n= ', '\u00a0=\u00a0', ' — ', '=\u2028'];
  const quotes = ['"', "'", '`', ''];
  const risky = [
    () => `${pick(['db', 'my_', '', 'x.'])}${caseOf(pick(assignment))}${pick(['', 's', '_v', '"', "'"])}${pick(ops)}${pick(quotes)}${value()}${pick(quotes)}${pick(['\n', ' # c\n', ';\n', ' \t\n', ''])}`,
    () => `${caseOf(pick(anywhere))}${value()}\n`,
    () => `${pick(quotes)}${value()}${value()}${pick(quotes)}\n`,
    () => `conn = ${pick(quotes)}${url()}${pick(quotes)}\n`,
    () => `${pick(['', 'aws_', 'AWS_', 'my'])}${pick(['secret', 'Secret', 'SECRET'])}${pick(['_access_key', 'AccessKey', '_KEY', 'key', '_sauce'])}${pick(ops)}${pick(quotes)}${value()}${value()}${pick(quotes)}\n`,
    () => `${pick(['', ' ', 'x', 'm'])}${pick(['SG', 'sg', 'Sg'])}.${value()}.${value()}\n`,
    // Exact shapes of keys whose rules check lengths: SendGrid (69 characters), AWS secret keys (40).
    () => `${pick([' ', 'm'])}SG.${exact(22, WORD)}.${exact(43, WORD)}\n`,
    () => `${pick(['aws_secret_access_key', 'AWS_SECRET_KEY', 'secretAccessKey'])}${pick([': ', '=', ' = '])}${exact(40, AWS)}${pick([' # note', ';', ''])}\n`,
    // Config values that look like code (calls, indexes, property paths) beside ones that do not.
    () => `${caseOf(pick(assignment))}=${pick(['token[0]', 'cfg.db.pass1', 'get_pw(2)', 'Zq8xL2mN4vR7', 'a1.b-c9xQ', 'x$1.y_2,', 'f9.g8;'])}\n`,
    // Values the assignment rules take for placeholders (secrets.ts isPlaceholder), beside near misses.
    () => `${caseOf(pick(assignment))}${pick(ops)}${pick(quotes)}${pick(['<|image_pad|>', '${DB_PASSWORD_9}', '%(pw)s1234567', '{{ token_9x }}', '************', 'xXxxXXxxxXXx', 'your-api-key-9z', 'Zq8REDACTEDx', 'ChangeMe12345', 'key.example.org9', 'PlaceHolder-12a', 'dummy_val_1234', 'abc...xyz12345', 'Password', 'Zq8xL2mN4<vR7', 'passw0rd9Zq8x', 'x${Zq8xL2mN4v}', 'yo-ur-Zq8xL2m9', 'ſecret-Zq8xL2m9'])}${pick(['', value().slice(0, 4)])}${pick(quotes)}${pick(['\n', ' # c\n', ';\n', ''])}`,
    // Config values between the entropy bars, digits without capitals.
    () => `${caseOf(pick(assignment))}=${exact(8 + Math.floor(rng() * 8), 'abcdef0123')}\n`,
    () => `${pick(['sk', 'rk', 'pk', 'tk', ' '])}_${pick(['live', 'test', 'Test'])}_${value()}${value()}\n`,
    () => `${pick(['', 'self.', 'x'])}${pick(['hf', 'HF'])}_${value()}${value()}\n`,
    // Case-sensitive keys around their length bars, after word characters or not, cut by non-ASCII characters.
    () => `${pick(['', ' ', 'x', '_', 'é'])}${pick(['AKIA', 'ASIA', 'AIDA', 'A3T', 'Asia', 'akia'])}${exact(14 + Math.floor(rng() * 5), 'ABCXYZ0129')}${pick(['', ' ', 'x', 'é'])}\n`,
    () => `${pick(['', ' ', 'ta', '('])}${pick(['sk-', 'SK-', 'Sk-'])}${pick(['', '', 'proj-', 'ant-api03-'])}${exact(19 + Math.floor(rng() * 3), WORD)}${pick(['', 'é', '\u00a0', ' '])}\n`,
    () => `${pick(['', ' ', 'x'])}${pick(['AIza', 'aiza', 'AIZA'])}${exact(33 + Math.floor(rng() * 5), `${WORD}-`)}\n`,
    () => `-----BEGIN ${pick(['RSA ', '', 'EC '])}${pick(['PRIVATE KEY', 'private key', 'Private Key'])}-----\n${exact(64, AWS)}\n-----END ${pick(['RSA ', '', 'EC '])}PRIVATE KEY-----\n`,
  ];
  const benign = [
    () => `function f${Math.floor(rng() * 1e6)}(a, b) {\n  return a + b * ${Math.floor(rng() * 100)};\n}\n`,
    () => `// ${pick(['TODO', 'note', 'générée', '生成', 'see docs'])} ${value()}\n`,
    () => `# Licensed under the Apache License, see http://www.apache.org/licenses/LICENSE-2.0 and https://h.io:8080/a@b\n`,
    () => `msg.append(${pick(['x', 'secret_sauce', 'my_test_case', 'self.hf_config'])})\n`,
    () => `# ${pick(['Asia/Tokyo', 'a risk-free task-queue', 'the private key is read', 'per token — a score'])}\n`,
    // Assignment keywords outside an assignment's shape: the gate must let these through.
    () => `const ${caseOf(pick(assignment))}izer = make(${pick(assignment)}s, "${value().slice(0, 8)}");\n`,
  ];
  const files: Record<string, string | Uint8Array> = {};
  for (let i = 0; i < n; i++) {
    // No risky fragment, exactly one (so that one gate decision decides the file), or many.
    const mode = pick(['none', 'none', 'one', 'one', 'many']);
    const parts = Array.from({ length: 3 + Math.floor(rng() * 30) }, () => (mode === 'many' && rng() < 0.3 ? pick(risky) : pick(benign))());
    if (mode === 'one') parts.splice(Math.floor(rng() * parts.length), 0, pick(risky)());
    let text = parts.join('');
    const twist = rng();
    if (twist < 0.03) text = `\ufeff${text}`;
    else if (twist < 0.06) text = text.replace(/\n/g, '\r\n');
    else if (twist < 0.08) text = `// @generated\n${text}`;
    files[`f/${i}.${pick(['ts', 'py', 'env', 'yaml', 'json', 'p12'])}`] = twist > 0.98 ? Buffer.from([0xff, ...Buffer.from(text)]) : text;
  }
  return files;
}

async function outcomes(root: string, paths: string[], native: boolean): Promise<FileOutcome[]> {
  const work = new FileWork({ root, maxBytes: 1 << 20, secrets: 'redact', native });
  const out: FileOutcome[] = [];
  for (const p of paths) out.push(await work.process(p));
  return out;
}

function comparable(o: FileOutcome) {
  return 'content' in o ? { ...o, content: Buffer.from(o.content as Uint8Array).toString('base64'), signature: o.signature && [...o.signature] } : o;
}

test('every file has the same outcome with and without the native scan', { skip }, async () => {
  const { files: planted } = plantedSecretCorpus();
  const files = { ...trickyFiles(1500), ...Object.fromEntries(Object.entries(planted).map(([p, t]) => [`planted/${p}`, t])) };
  const root = outsideTempDir('native');
  try {
    writeFiles(root, files);
    const paths = Object.keys(files);
    const [js, native] = [await outcomes(root, paths, false), await outcomes(root, paths, true)];
    assert.deepEqual(native.map(comparable), js.map(comparable));
    // The comparison means something only if both paths were taken often, and secrets were found.
    const scan = plainFileScanner();
    assert.ok(scan);
    const plain = paths.filter((p) => scan(fs.readFileSync(path.join(root, p))) !== null);
    const withSecrets = js.filter((o) => Object.keys(o.secretCounts).length > 0).length;
    assert.ok(plain.length > 200 && paths.length - plain.length > 200, `${plain.length} of ${paths.length} plain`);
    assert.ok(withSecrets > 40, `${withSecrets} files with secrets`);
    for (const p of Object.keys(planted)) assert.equal(scan(fs.readFileSync(path.join(root, 'planted', p))), null, p);
  } finally {
    removeDir(root);
  }
});

/** A reader that waits on the FIFO below hangs: the test fails after this instead. */
const SAME_HARVEST_TIMEOUT_MS = 120_000;

test('a harvest gives the same manifest, texts and exclusions with and without the native scan, threaded or not', { skip, timeout: SAME_HARVEST_TIMEOUT_MS }, async () => {
  const repo = outsideTempDir('native-harvest');
  try {
    git(repo, 'init', '-q');
    writeFiles(repo, {
      ...trickyFiles(300),
      'src/a.ts': 'export const a = 1;\n',
      'src/copy.ts': 'export const a = 1;\n',
      'src/big.ts': `export const big = [${'1, '.repeat(3000)}];\n`,
      'real/inner.ts': 'export const inner = 2;\n',
      // Every content exclusion the native scan decides, and near misses it must keep.
      'x/binary.dat2': Buffer.from([0x41, 0, 0x42]),
      'x/latin1.txt': Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]),
      'x/lfs.bin2': 'version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n',
      'x/empty.ts': ' \u00a0\u3000\u2028\n\t\n',
      'x/nel.ts': '\u0085\n',
      'x/min.js2': `var a=${'[1,2],'.repeat(400)}0;\n`,
      'x/gen1.go': '// Code generated by protoc-gen-go. DO NOT EDIT.\npackage x\n',
      'x/gen2.py': '# @generated by a tool\nx = 1\n',
      'x/gen3.ts': '/* Auto-Generated file */\nexport const y = 2;\n',
      'x/near1.py': '# @generatedBy nobody\nx = 1\n',
      'x/near2.ts': '// code generated by hand\nexport const z = 3;\n',
      'x/near3.ts': '// xDo not edit? please do\nexport const w = 4;\n',
      'y/folder.ts': 'export const becomesAFolder = 1;\n',
      'y/fifo.ts': 'export const becomesAFifo = 1;\n',
      // Enough files for JavaScript to decide that the threaded harvest starts its worker threads midway.
      ...Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`cfg/${i}.env`, `DB_PASSWORD=Zq8${i}xL2mN4vR7pT1\n`])),
    });
    // What the native reader must leave to JavaScript: a link to a file, and a tracked file whose folder was
    // replaced by a link after the commit.
    fs.symlinkSync('src/a.ts', path.join(repo, 'link.ts'));
    commitAll(repo, 'files');
    fs.renameSync(path.join(repo, 'real'), path.join(repo, 'moved'));
    fs.symlinkSync('moved', path.join(repo, 'real'));
    // …and tracked files replaced after the commit by a folder and by a FIFO (whose open must not wait for a writer).
    fs.rmSync(path.join(repo, 'y/folder.ts'));
    fs.mkdirSync(path.join(repo, 'y/folder.ts'));
    fs.rmSync(path.join(repo, 'y/fifo.ts'));
    execFileSync('mkfifo', [path.join(repo, 'y/fifo.ts')]);
    const summary = async (nativeScan: boolean, workers: number, corpusDir?: string) => {
      const r = await harvest(repo, { nativeScan, workers, maxFileBytes: 4096, corpusDir });
      return { manifest: r.manifest, excluded: r.excluded, files: r.files.map((f) => [f.path, f.split, f.sha256, f.text]) };
    };
    const reference = await summary(false, 0);
    const reasons = Object.fromEntries(reference.excluded.map((e) => [e.path, e.reason]));
    assert.ok(reasons['src/big.ts'] === 'too-large' && reasons['link.ts'] && reasons['real/inner.ts'], JSON.stringify(reasons));
    assert.ok(reasons['y/folder.ts'] === 'not-a-file' && reasons['y/fifo.ts'] === 'not-a-file', JSON.stringify(reasons));
    assert.ok(reference.manifest.secretsRedacted['config-secret'] >= 300, 'the .env files are decided in JavaScript');
    const decidedNatively = exclusionReasons();
    assert.ok(decidedNatively.length > 0 && decidedNatively.every((r) => Object.values(reasons).includes(r)), `each of ${decidedNatively} occurs`);
    for (const p of ['x/nel.ts', 'x/near1.py', 'x/near2.ts', 'x/near3.ts']) assert.equal(reasons[p], undefined, p);
    assert.deepEqual(await summary(true, 0), reference);
    assert.deepEqual(await summary(true, 2), reference, 'native batches on libuv threads, the rest in worker threads');
    // With a corpus folder the native threads append the texts to its pack themselves, beside the store's appends.
    assert.deepEqual(await summary(true, 2, path.join(repo, '.corpus')), reference, 'texts read back from the pack');
  } finally {
    removeDir(repo);
  }
});
