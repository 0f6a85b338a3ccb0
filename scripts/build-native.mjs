// Builds the harvest's native plain-file scan (server/native, Rust) into dist/harvestNative.node, and copies it to
// the other folders given (the test bundles' out/test). Quick when nothing changed (cargo's own check).
//   node scripts/build-native.mjs [extra-dir …]
// Without cargo on PATH it says so and leaves the addon out: the harvest then runs the same work in JavaScript,
// slower. REPOTUNE_SKIP_NATIVE=1 skips the build on purpose. A failing build with cargo present is an error.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CRATE = path.join(ROOT, 'server', 'native');
const OUT_FILE = 'harvestNative.node';
/** A first build fetches and compiles the crates (about a minute on 2 cores); later ones take a second. */
const BUILD_TIMEOUT_MS = 600_000;
/** cargo's library file per platform (the addon is a cdylib). */
const LIBRARY = { linux: 'librepotune_native.so', darwin: 'librepotune_native.dylib', win32: 'repotune_native.dll' }[process.platform];

function hasCargo() {
  return spawnSync('cargo', ['--version'], { stdio: 'ignore' }).status === 0;
}

function main() {
  if (process.env.REPOTUNE_SKIP_NATIVE === '1') return;
  if (!LIBRARY || !hasCargo()) {
    console.error('build-native: no Rust toolchain (cargo) here; the harvest will use its JavaScript scan (slower).');
    return;
  }
  const r = spawnSync('cargo', ['build', '--release', '--locked', '--quiet', '--manifest-path', path.join(CRATE, 'Cargo.toml')], {
    stdio: 'inherit',
    timeout: BUILD_TIMEOUT_MS,
  });
  if (r.status !== 0) {
    console.error(`build-native: cargo build failed (${r.status ?? r.signal}); set REPOTUNE_SKIP_NATIVE=1 to build without the addon.`);
    process.exit(1);
  }
  const built = path.join(CRATE, 'target', 'release', LIBRARY);
  for (const dir of [path.join(ROOT, 'dist'), ...process.argv.slice(2).map((d) => path.resolve(ROOT, d))]) {
    fs.mkdirSync(dir, { recursive: true });
    // Copy then rename: a running harvest may have the old file mapped.
    const tmp = path.join(dir, `${OUT_FILE}.tmp-${process.pid}`);
    fs.copyFileSync(built, tmp);
    fs.renameSync(tmp, path.join(dir, OUT_FILE));
  }
}

main();
