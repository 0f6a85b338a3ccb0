/** The harvest stage on awkward repositories: each gets the right outcome or a clear notice, never a crash. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { harvest, type HarvestResult } from '../../server/src/harvest/harvest';
import { commitAll, git, outsideTempDir, removeDir, writeFiles } from '../helpers/gitFixture';
import { addSubmodule, commitAllAt, shallowClone } from '../helpers/harvestRepos';

const reasons = (r: HarvestResult) => Object.fromEntries(r.excluded.map((e) => [e.path, e.reason]));
const held = (r: HarvestResult) => r.files.filter((f) => f.split === 'holdout').map((f) => f.path);
const kept = (r: HarvestResult) => r.files.map((f) => f.path);

/** A module of `n` distinct functions: long enough for MinHash, different per `name`. */
function moduleText(name: string, n = 12): string {
  return Array.from({ length: n }, (_, i) => `export function ${name}${i}(x: number): number {\n  return x * ${i} + ${name.length};\n}\n`).join('\n');
}

async function withDirs(prefixes: string[], body: (...dirs: string[]) => Promise<void>): Promise<void> {
  const dirs = prefixes.map((p) => outsideTempDir(p));
  try {
    await body(...dirs);
  } finally {
    for (const d of dirs) removeDir(d);
  }
}

test('near duplicates: one of a group stays; a near copy of a holdout file never stays in training', () =>
  withDirs(['neardup'], async (repo) => {
    git(repo, 'init', '-q');
    const base = moduleText('alpha');
    writeFiles(repo, {
      'a/alpha.ts': base,
      'b/alpha_copy.ts': base.replace('return x * 3', 'return x * 33'), // a light edit
      'c/other.ts': moduleText('gamma'),
      ...Object.fromEntries('defgh'.split('').map((n) => [`m/${n}.ts`, moduleText(`mod${n}`)])),
    });
    commitAll(repo, 'one');
    writeFiles(repo, { 'z/new.ts': `${moduleText('delta')}// new\n`, 'c/copy_of_new.ts': `${moduleText('delta')}// a copy\n` });
    commitAll(repo, 'two');
    writeFiles(repo, { 'z/new.ts': `${moduleText('delta')}// new, edited\n` });
    commitAll(repo, 'three: z/new.ts is the holdout, its near copy must leave training');
    const r = await harvest(repo, {});
    assert.deepEqual(held(r), ['z/new.ts']);
    assert.equal(reasons(r)['b/alpha_copy.ts'], 'near-duplicate');
    assert.equal(reasons(r)['c/copy_of_new.ts'], 'near-duplicate-of-holdout');
    assert.ok(kept(r).includes('a/alpha.ts') && kept(r).includes('c/other.ts'));
  }));

test('settings: include/exclude globs, languages, .repotuneignore', () =>
  withDirs(['settings'], async (repo) => {
    writeFiles(repo, {
      'src/a.ts': 'export const a = 1;\n',
      'src/b.py': 'b = 1\n',
      'src/gen/c.ts': 'export const c = 1;\n',
      'docs/d.md': '# d\n',
      'tools/e.ts': 'export const e = 1;\n',
      '.repotuneignore': 'tools/\n',
    });
    const r = await harvest(repo, { include: ['src/'], exclude: ['**/gen/**'], languages: ['typescript', 'python'] });
    assert.deepEqual(kept(r), ['src/a.ts', 'src/b.py']);
    assert.deepEqual(reasons(r), {
      '.repotuneignore': 'excluded-by-setting',
      'docs/d.md': 'excluded-by-setting',
      'src/gen/c.ts': 'excluded-by-setting',
      'tools/e.ts': 'repotuneignore',
    });
    const byLanguage = await harvest(repo, { languages: ['python'] });
    assert.deepEqual(kept(byLanguage), ['src/b.py']);
    assert.equal(byLanguage.excluded.find((e) => e.path === 'src/a.ts')?.reason, 'language-not-selected');
    assert.deepEqual(byLanguage.manifest.settings.languages, ['python']);
  }));

test('holdout by days: the commits of the last D days before HEAD, by commit date', () =>
  withDirs(['days'], async (repo) => {
    git(repo, 'init', '-q');
    writeFiles(repo, Object.fromEntries('abcdefghij'.split('').map((n) => [`${n}.ts`, `export const ${n} = 1;\n`])));
    commitAllAt(repo, 'old', '2024-01-01T12:00:00Z');
    writeFiles(repo, { 'b.ts': 'export const b = 2;\n' });
    commitAllAt(repo, 'ten days before head', '2024-03-01T12:00:00Z');
    writeFiles(repo, { 'c.ts': 'export const c = 2;\n' });
    commitAllAt(repo, 'two days before head', '2024-03-09T12:00:00Z');
    writeFiles(repo, { 'd.ts': 'export const d = 2;\n' });
    commitAllAt(repo, 'head', '2024-03-11T12:00:00Z');
    const r3 = await harvest(repo, { holdoutDays: 3 });
    assert.deepEqual(held(r3), ['c.ts', 'd.ts']);
    assert.equal(r3.manifest.holdoutRule, 'newest-days');
    assert.deepEqual(held(await harvest(repo, { holdoutDays: 15 })), ['b.ts', 'c.ts', 'd.ts']);
    const all = await harvest(repo, { holdoutDays: 1000 });
    assert.equal(all.manifest.holdoutRule, 'path-hash', 'every commit is recent: nothing older to train on');
    assert.ok(
      all.notices.includes('Only 4 commits: holding out the 4 commits of the last 1000 days would leave none to train on, so holding out ~10% of files by path instead.'),
      all.notices.join('\n'),
    );
    assert.equal(all.manifest.settings.holdout, 'last 1000 days of commits, else 10% by path hash');
    assert.deepEqual(held(await harvest(repo, { holdoutCommits: 2 })), ['c.ts', 'd.ts']);
  }));

test('symlinks are never followed: a linked file, a committed link and a linked folder escaping the workspace', () =>
  withDirs(['links', 'links-outside'], async (repo, outside) => {
    writeFiles(outside, { 'secret.ts': 'export const outside = 1;\n', 'lib/x.ts': 'export const x = 1;\n' });
    git(repo, 'init', '-q');
    writeFiles(repo, { 'lib/x.ts': 'export const x = 2;\n', 'src/a.ts': 'export const a = 1;\n' });
    fs.symlinkSync(path.join(outside, 'secret.ts'), path.join(repo, 'escape.ts'));
    fs.symlinkSync('src/a.ts', path.join(repo, 'inside.ts'));
    commitAll(repo, 'links');
    // The working tree's lib/ is swapped for a link to a folder outside: git still lists lib/x.ts.
    fs.rmSync(path.join(repo, 'lib'), { recursive: true });
    fs.symlinkSync(path.join(outside, 'lib'), path.join(repo, 'lib'));
    const r = await harvest(repo, {});
    assert.deepEqual(kept(r), ['src/a.ts']);
    assert.deepEqual(reasons(r), { 'escape.ts': 'outside-workspace', 'inside.ts': 'symlink', 'lib/x.ts': 'outside-workspace' });
  }));

test('non-ASCII paths, CRLF/BOM, invalid UTF-8 and a 1 GB sparse file (never read)', () =>
  withDirs(['paths'], async (repo) => {
    git(repo, 'init', '-q');
    writeFiles(repo, {
      'src/naïve/ünïcode.ts': 'export const ü = 1;\r\n',
      '文档/说明.py': '\ufeffprint("你好")\r\n',
      'bad.ts': Buffer.from([0x63, 0xff, 0xfe, 0x0a]),
    });
    commitAll(repo, 'unicode');
    fs.writeFileSync(path.join(repo, 'huge.ts'), '');
    fs.truncateSync(path.join(repo, 'huge.ts'), 1024 ** 3);
    git(repo, 'add', '--intent-to-add', 'huge.ts'); // listed by git without hashing 1 GB
    const before = process.memoryUsage().rss;
    const r = await harvest(repo, {});
    assert.ok(process.memoryUsage().rss - before < 200 * 1024 ** 2, 'the 1 GB file was not read');
    assert.deepEqual(kept(r), ['src/naïve/ünïcode.ts', '文档/说明.py']);
    assert.equal(r.files[1].text, 'print("你好")\n');
    assert.deepEqual(reasons(r), { 'bad.ts': 'not-utf8', 'huge.ts': 'too-large' });
  }));

test('empty repository, empty commit, shallow clone, submodule: outcomes and notices', () =>
  withDirs(['edge', 'edge-shallow', 'edge-sub'], async (repo, cloneParent, sub) => {
    git(repo, 'init', '-q');
    assert.deepEqual((await harvest(repo, {})).files, [], 'empty repository');
    git(repo, 'commit', '-q', '--allow-empty', '-m', 'empty');
    const empty = await harvest(repo, {});
    assert.deepEqual(empty.files, []);
    assert.ok(empty.notices.some((n) => n.includes('git lists no files')), empty.notices.join('\n'));

    writeFiles(repo, Object.fromEntries('abcdef'.split('').map((n) => [`${n}.ts`, `export const ${n} = 1;\n`])));
    commitAll(repo, 'files');
    writeFiles(repo, { 'b.ts': 'export const b = 2;\n' });
    commitAll(repo, 'edit');
    const clone = path.join(cloneParent, 'clone');
    shallowClone(repo, clone, 1);
    const shallow = await harvest(clone, {});
    assert.equal(shallow.files.length, 6);
    assert.equal(shallow.manifest.holdoutRule, 'path-hash');
    assert.ok(shallow.notices.some((n) => n.includes('shallow clone')), shallow.notices.join('\n'));
    const deeper = path.join(cloneParent, 'deeper');
    shallowClone(repo, deeper, 2);
    assert.deepEqual(held(await harvest(deeper, {})), ['b.ts'], 'enough history for the newest commit');

    git(sub, 'init', '-q');
    writeFiles(sub, { 'lib.ts': 'export const lib = 1;\n' });
    commitAll(sub, 'sub');
    addSubmodule(repo, sub, 'deps/lib');
    commitAll(repo, 'add submodule');
    const withSub = await harvest(repo, {});
    assert.equal(reasons(withSub)['deps/lib'], 'submodule');
    assert.ok(!kept(withSub).some((p) => p.startsWith('deps/lib/')));
    assert.ok(withSub.notices.some((n) => n.includes('Submodules are not harvested')));
  }));

test('bad settings are clear errors', async () => {
  await assert.rejects(harvest('.', { holdoutFraction: 2 }), /holdoutFraction must be between 0 and 1/);
  await assert.rejects(harvest('.', { holdoutDays: -1 }), /holdoutDays must be a number/);
});
