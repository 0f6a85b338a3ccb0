// The harvest of this working tree against another revision's, run alternately in one session: this VM's speed drifts
// by ±30% from minute to minute, so two builds are only comparable when their runs interleave.
//   node bench/harvest-ab.mjs --base <rev> [--repo DIR] [--rounds 5]
// Builds the base revision in a temporary git worktree (its harvest-child and worker bundles, and its native addon
// with cargo when it has one) and this tree the same way, then runs the two threaded harvests in turns on the same
// repository (default: the synthetic one bench/harvest.mjs builds) and prints each side's median wall time and CPU
// time with their ranges, and the ratio of the medians.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const DEFAULT_ROUNDS = 5;
/** cargo's build of the base revision's addon; kept between runs so a second run only relinks. */
const BASE_TARGET_DIR = path.join(ROOT, '.cache', 'bench', 'harvest-ab-target');
/** A first cargo build compiles the crates (about a minute on 2 cores). */
const CARGO_TIMEOUT_MS = 600_000;
const LIBRARY = { linux: 'librepotune_native.so', darwin: 'librepotune_native.dylib', win32: 'repotune_native.dll' }[process.platform];

const { values } = parseArgs({ options: { base: { type: 'string' }, repo: { type: 'string' }, rounds: { type: 'string' } } });
if (!values.base) throw new Error('usage: node bench/harvest-ab.mjs --base <rev> [--repo DIR] [--rounds N]');
const rounds = Number(values.rounds ?? DEFAULT_ROUNDS);
const repo = path.resolve(values.repo ?? path.join(ROOT, '.cache', 'bench', 'harvest-20000'));
if (!fs.existsSync(repo)) throw new Error(`${repo} does not exist: run node bench/harvest.mjs once, or pass --repo DIR.`);

/** The child and worker bundles of the tree at `src`, and its addon when `addon` names one, in `dir`. */
async function buildSide(src, dir, addon) {
  fs.mkdirSync(dir, { recursive: true });
  const bundle = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'warning', absWorkingDir: src };
  const child = path.join(src, 'bench', 'harvest-child.ts');
  if (!fs.existsSync(child)) throw new Error(`${child} is missing: the base revision predates bench/harvest-child.ts.`);
  await esbuild.build({ ...bundle, entryPoints: [child], outfile: path.join(dir, 'child.cjs') });
  await esbuild.build({ ...bundle, entryPoints: [path.join(src, 'server/src/harvest/worker.ts')], outfile: path.join(dir, 'harvestWorker.js') });
  if (addon) fs.copyFileSync(addon, path.join(dir, 'harvestNative.node'));
  return { dir, native: addon !== undefined };
}

/** The base revision's addon, built with cargo into BASE_TARGET_DIR; undefined without cargo or without a crate. */
function buildBaseAddon(worktree) {
  const crate = path.join(worktree, 'server', 'native');
  if (!LIBRARY || !fs.existsSync(path.join(crate, 'Cargo.toml'))) return undefined;
  const r = spawnSync('cargo', ['build', '--release', '--locked', '--quiet', '--manifest-path', path.join(crate, 'Cargo.toml')], {
    stdio: 'inherit',
    timeout: CARGO_TIMEOUT_MS,
    env: { ...process.env, CARGO_TARGET_DIR: BASE_TARGET_DIR },
  });
  return r.status === 0 ? path.join(BASE_TARGET_DIR, 'release', LIBRARY) : undefined;
}

function harvestOnce(side, corpus) {
  fs.rmSync(corpus, { recursive: true, force: true });
  const out = execFileSync(process.execPath, [path.join(side.dir, 'child.cjs'), repo, corpus], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const run = JSON.parse(out.trim().split('\n').pop());
  return { ms: run.ms, cpu: run.cpu ? run.cpu.main + run.cpu.others : NaN };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function describe(name, side, runs) {
  const ms = runs.map((r) => r.ms);
  const cpu = runs.map((r) => r.cpu);
  const range = (xs, digits) => `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
  console.log(
    `${name.padEnd(6)} median ${median(ms).toFixed(0)} ms (${range(ms, 0)})   CPU median ${median(cpu).toFixed(2)} s (${range(cpu, 2)})   native scan: ${side.native ? 'yes' : 'no'}`,
  );
}

async function main() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'repotune-bench-ab-'));
  const worktree = path.join(work, 'base-tree');
  try {
    execFileSync('git', ['worktree', 'add', '--detach', '--quiet', worktree, values.base], { cwd: ROOT, stdio: 'inherit' });
    // The base revision bundles with this tree's packages: the harvest's dependencies rarely change between them.
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(worktree, 'node_modules'));
    const base = await buildSide(worktree, path.join(work, 'base'), buildBaseAddon(worktree));
    execFileSync(process.execPath, [path.join(ROOT, 'scripts/build-native.mjs')], { stdio: 'inherit' });
    const ownAddon = path.join(ROOT, 'dist', 'harvestNative.node');
    const head = await buildSide(ROOT, path.join(work, 'head'), fs.existsSync(ownAddon) ? ownAddon : undefined);
    const corpus = path.join(work, 'corpus');
    const runs = { base: [], head: [] };
    harvestOnce(head, corpus); // warm the page cache and the file system's metadata for both sides
    for (let i = 0; i < rounds; i++) {
      // Alternate which side goes first, so neither always runs right after the other's writes.
      const order = i % 2 === 0 ? ['base', 'head'] : ['head', 'base'];
      for (const name of order) runs[name].push(harvestOnce(name === 'base' ? base : head, corpus));
    }
    console.log(`repository: ${repo}; ${rounds} alternating rounds, threaded harvests`);
    describe('base', base, runs.base);
    describe('head', head, runs.head);
    const ratio = median(runs.head.map((r) => r.ms)) / median(runs.base.map((r) => r.ms));
    console.log(`head / base: ${ratio.toFixed(3)} (wall-time medians; ${values.base} is the base, this working tree the head)`);
  } finally {
    spawnSync('git', ['worktree', 'remove', '--force', worktree], { cwd: ROOT, stdio: 'ignore' });
    spawnSync('git', ['worktree', 'prune'], { cwd: ROOT, stdio: 'ignore' });
    fs.rmSync(work, { recursive: true, force: true });
  }
}

await main();
