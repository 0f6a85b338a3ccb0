/** Planted secrets of many kinds and formats never reach the corpus, manifest or shards; ordinary code is left alone. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { harvest, writeCorpus, writeManifest } from '../../server/src/harvest/harvest';
import { scanSecrets } from '../../server/src/harvest/secretlint';
import { buildShards } from '../../server/src/examples/shards';
import { detectFamily } from '../../server/src/examples/families';
import { loadTokenizer } from '../../server/src/models/tokenizer';
import { commitAll, git, outsideTempDir, removeDir, writeFiles } from '../helpers/gitFixture';
import { ensureDemoModel, REPO_ROOT } from '../helpers/paths';
import { leakedSecrets, plantedSecretCorpus } from '../helpers/plantedSecrets';

const SEQ_LEN = 256;
const PLAIN_CODE = 'export function area(w: number, h: number): number {\n  return w * h;\n}\n';

function allFilesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

test('planted secrets (keys, tokens, PEM, JWT, URLs, .env/YAML/JSON/notebooks): 0 leaks in corpus, manifest and shards', async () => {
  const { files, secrets } = plantedSecretCorpus();
  const repo = outsideTempDir('planted');
  const out = outsideTempDir('planted-out');
  try {
    git(repo, 'init', '-q');
    writeFiles(repo, { ...files, 'src/area.ts': PLAIN_CODE });
    commitAll(repo, 'secrets everywhere');
    const result = await harvest(repo, { corpusDir: path.join(out, 'store') });
    // Every planted file is kept, redacted; a PEM file that was nothing but its key is a duplicate once redacted.
    const outcome = (p: string) => (result.files.some((f) => f.path === p) ? 'kept' : result.excluded.find((e) => e.path === p)?.reason);
    for (const p of Object.keys(files)) assert.ok(['kept', 'duplicate'].includes(outcome(p) ?? ''), `${p}: ${outcome(p)}`);
    const found = Object.values(result.manifest.secretsRedacted).reduce((a, b) => a + b, 0);
    assert.ok(found >= secrets.length, `${found} findings for ${secrets.length} planted secrets`);
    for (const f of result.files) assert.deepEqual(leakedSecrets(f.text, secrets), [], f.path);

    writeManifest(out, result);
    writeCorpus(out, result);
    const tok = loadTokenizer(ensureDemoModel());
    await buildShards(result.files, tok, detectFamily(tok, 'demo'), { outDir: path.join(out, 'shards'), seed: 1, seqLen: SEQ_LEN, fimRate: 0 });
    for (const file of allFilesUnder(out)) {
      assert.deepEqual(leakedSecrets(fs.readFileSync(file, 'utf8'), secrets), [], path.relative(out, file));
    }
    const shardText = allFilesUnder(path.join(out, 'shards'))
      .filter((f) => f.endsWith('.jsonl'))
      .flatMap((f) => fs.readFileSync(f, 'utf8').split('\n').filter(Boolean))
      .map((l) => tok.decode(JSON.parse(l).ids))
      .join('\n');
    assert.ok(shardText.includes('<REDACTED:'), 'redacted texts reach the shards');
    assert.deepEqual(leakedSecrets(shardText, secrets), [], 'decoded shards');
  } finally {
    removeDir(repo);
    removeDir(out);
  }
});

test("secrets: 'drop' leaves every file with a secret out, counted by rule", async () => {
  const { files, secrets } = plantedSecretCorpus(5);
  const repo = outsideTempDir('planted-drop');
  try {
    writeFiles(repo, { ...files, 'src/area.ts': PLAIN_CODE });
    const result = await harvest(repo, { secrets: 'drop' });
    assert.deepEqual(result.files.map((f) => f.path), ['src/area.ts']);
    for (const p of Object.keys(files)) assert.ok(result.excluded.some((e) => e.path === p && e.reason === 'secret'), p);
    assert.ok(Object.keys(result.manifest.secretsRedacted).some((r) => r.startsWith('secretlint/')), 'secretlint rules report too');
    assert.deepEqual(leakedSecrets(JSON.stringify(result.manifest), secrets), []);
    await assert.rejects(harvest(repo, { secrets: 'keep' as never }), /'redact' or 'drop'/);
  } finally {
    removeDir(repo);
  }
});

test('false positives: RepoTune’s own sources (src/, server/src/) have no findings', async () => {
  const sources = ['src', 'server/src'].flatMap((d) => allFilesUnder(path.join(REPO_ROOT, d))).filter((f) => /\.(ts|py|json)$/.test(f));
  assert.ok(sources.length > 20, 'found the sources');
  const findings: string[] = [];
  for (const file of sources) {
    for (const f of await scanSecrets(fs.readFileSync(file, 'utf8'), file)) findings.push(`${path.relative(REPO_ROOT, file)}: ${f.rule}`);
  }
  console.log(`false-positive check: ${findings.length} findings in ${sources.length} files`);
  assert.deepEqual(findings, []);
});
