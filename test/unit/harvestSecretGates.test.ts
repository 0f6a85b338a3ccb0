/**
 * The keyword gates that let the secret scan skip rules must never change what it finds: gated findings equal the
 * findings of the plain patterns run over whole texts (planted secrets, edge cases, this repository's own sources),
 * and secretlint is skipped only on texts where it reports nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KeywordScanner } from '../../server/src/harvest/keywordScan';
import { findWithRules, HEURISTIC_RULES, SPECIFIC_RULES, type SecretFinding, type SecretRule } from '../../server/src/harvest/secrets';
import { findWithSecretlint, presetRuleIds, SECRETLINT_KEYWORDS, secretKeywordHits } from '../../server/src/harvest/secretlint';
import { REPO_ROOT } from '../helpers/paths';
import { plantedSecretCorpus } from '../helpers/plantedSecrets';

/** The heuristic rules as they were written before gating: whole-text patterns, the reference for the gated ones. */
const PLAIN_PATTERNS: Record<string, RegExp> = {
  'generic-secret-assignment':
    /(?:password|passwd|pwd|secret|api[_-]?key|apikey|access[_-]?key|auth[_-]?token|access[_-]?token|token|client[_-]?secret|private[_-]?key)["']?\s*(?::=|=>|[:=])\s*["'`]([^"'`\s]{12,200})["'`]/dgi,
};

function plainFindings(text: string, rules: readonly SecretRule[]): SecretFinding[] {
  const found: SecretFinding[] = [];
  for (const rule of rules) {
    const pattern = new RegExp(PLAIN_PATTERNS[rule.id] ?? rule.pattern, (PLAIN_PATTERNS[rule.id] ?? rule.pattern).flags.replace('y', 'g'));
    for (const m of text.matchAll(pattern)) {
      const secret = m[rule.group];
      const at = m.indices?.[rule.group];
      if (secret !== undefined && at && (!rule.accept || rule.accept(secret))) found.push({ rule: rule.id, start: at[0], end: at[1] });
    }
  }
  return sorted(found);
}

function sorted(findings: readonly SecretFinding[]): SecretFinding[] {
  return [...findings].sort((a, b) => a.rule.localeCompare(b.rule) || a.start - b.start || a.end - b.end);
}

const EDGE_CASES = [
  'export\n\nDB_PASSWORD=Zq81xL2mN4vR7pT1wK9\n',
  '  export   \n  API_TOKEN: aB3dE5fG7hJ9kL1m\n',
  'const dbPassword = "Zq8xL2mN4vR7pT1wK9";\nconst MONKEY = "Zq8xL2mN4vR7pT1wK9";\n',
  'ACCESS_TOKEN  =>  `aB3dE5fG7hJ9kL1mN0pQ`\r\nclient-secret:"aB3dE5fG7hJ9kL1mN0pQ"',
  'tokentoken = "aB3dE5fG7hJ9kL1mN0pQ" // pässwörd token="Zq8xL2mN4vR7pT1wK9"',
  'PRIVATE_KEY=\'abc\'\nSecret:\tZq8xL2mN4vR7pT1wK9\u2028password = "Zq8xL2mN4vR7pT1wK9"',
  'curl https://deploy:Xk9pL2mQ7v@api.internal.io/v1/releases\n',
  // url-password runs only just before each `://`: schemes of 1, 2, 20 and 21 characters, at the text's start,
  // after a word character, several `://` close together and inside one match.
  'ftp://u:Xk9pL2mQ7v@files.io h://a:Xk9pL2mQ7v@b.io ab://a:Xk9pL2mQ7v@b.io ://x:Xk9pL2mQ7v@h.io',
  'abcdefghijklmnopqrst://u:Xk9pL2mQ7v@h.io abcdefghijklmnopqrstu://u:Xk9pL2mQ7v@h.io ab1https://u:Xk9pL2mQ7v@h.io',
  'x://y://user:Xk9pL2mQ7v@host.io/a https://u:Xk9pL2mQ7v@h.io://v:Yk9pL2mQ7v@g.io git+ssh://g:Zk9pL2mQ7vRR@gitlab.internal',
  'é-https://u:Xk9pL2mQ7v@h.io\u00a0s3://k:Xk9pL2mQ7v@b.io https://u:Xk9pL2mQ7v@docs.example.com/x',
  'const k = "AKIAIOSFODNN7EXAMPLE"; // ghp_0123456789abcdefghijABCDEFGHIJ012345 xoxb-123456789012-abcdefghij',
];

function ownSources(): { path: string; text: string }[] {
  const roots = ['server/src', 'src', 'test/unit', 'server/trainer/repotune_trainer', 'docs'];
  return roots.flatMap((root) =>
    fs
      .readdirSync(path.join(REPO_ROOT, root), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && /\.(ts|py|md|json)$/.test(e.name))
      .map((e) => {
        const abs = path.join(e.parentPath, e.name);
        return { path: path.relative(REPO_ROOT, abs), text: fs.readFileSync(abs, 'utf8') };
      }),
  );
}

function corpus(): { path: string; text: string }[] {
  const planted = Object.entries(plantedSecretCorpus().files).map(([p, text]) => ({ path: p, text }));
  return [...planted, ...EDGE_CASES.map((text, i) => ({ path: `edge${i}.env`, text })), ...ownSources()];
}

test('keyword scanner: every occurrence, overlapping, ASCII case-insensitive, by end offset', () => {
  const words = ['he', 'she', 'his', 'hers', '://'];
  const hits = new KeywordScanner(words).scan('uSHErs his hé https://x');
  assert.deepEqual(words.map((w) => hits.ends(w)), [[4], [4], [10], [6], [22]]);
  assert.equal(hits.has('his'), true);
  assert.equal(new KeywordScanner(words).scan('h\u00e9rs').has('hers'), false, 'a non-ASCII character breaks a keyword');
  assert.throws(() => hits.has('key'), /not scanned for/);
  assert.throws(() => new KeywordScanner(['Key']), /lower-case ASCII/);
});

test('gated rules find exactly what the plain patterns find', () => {
  const texts = corpus();
  assert.ok(texts.length > 100, `${texts.length} texts`);
  let findings = 0;
  for (const { path: p, text } of texts) {
    for (const rules of [SPECIFIC_RULES, HEURISTIC_RULES]) {
      const gated = sorted(findWithRules(text, rules));
      assert.deepEqual(gated, plainFindings(text, rules), p);
      findings += gated.length;
    }
  }
  assert.ok(findings > 50, `${findings} findings: the comparison covers real matches`);
});

test("secretlint's gate lists every rule of the preset (a preset update must be read and listed)", () => {
  assert.deepEqual(Object.keys(SECRETLINT_KEYWORDS).sort(), presetRuleIds().sort());
});

test("secretlint's rules are skipped only where they report nothing", async () => {
  let skipped = 0;
  let partly = 0;
  let findings = 0;
  for (const { path: p, text } of corpus()) {
    const everyRule = await findWithSecretlint(text, p);
    const gated = await findWithSecretlint(text, p, secretKeywordHits(text));
    assert.deepEqual(gated, everyRule, p);
    findings += everyRule.length;
    const words = Object.values(SECRETLINT_KEYWORDS).filter((w) => w.length > 0);
    const present = words.filter((w) => w.some((k) => text.toLowerCase().includes(k))).length;
    if (present === 0) skipped++;
    else if (present < words.length) partly++;
  }
  assert.ok(skipped > 50 && partly > 10 && findings > 10, `skipped ${skipped}, partly linted ${partly}, ${findings} findings`);
  // A `secretlint-disable` comment still silences a rule that runs without the whole preset.
  const token = `const t = "ghp_${'aB3dE5fG7h'.repeat(4).slice(0, 36)}";\n`;
  for (const [text, n] of [[token, 1], [`// secretlint-disable-next-line\n${token}`, 0]] as const) {
    const gated = await findWithSecretlint(text, 'a.ts', secretKeywordHits(text));
    assert.equal(gated.length, n, text);
    assert.deepEqual(gated, await findWithSecretlint(text, 'a.ts'));
  }
});
