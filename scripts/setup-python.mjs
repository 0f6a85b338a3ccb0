// Creates the trainer's Python environment: a venv (default <repo>/.venv, or --venv DIR) with the pinned
// requirements of server/trainer/requirements.txt. `--if-needed` does nothing when the venv already matches the
// requirements (a hash stamp inside the venv), so it is cheap to call before every run.
import { execFileSync, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REQUIREMENTS = path.join(ROOT, 'server', 'trainer', 'requirements.txt');
const MIN_PYTHON = [3, 10];
const STAMP = '.repotune-requirements.sha256';

const args = process.argv.slice(2);
const venvArg = args.indexOf('--venv');
const venv = path.resolve(venvArg >= 0 ? args[venvArg + 1] : path.join(ROOT, '.venv'));
const venvPython = path.join(venv, process.platform === 'win32' ? 'Scripts/python.exe' : 'bin/python');
const wanted = crypto.createHash('sha256').update(fs.readFileSync(REQUIREMENTS)).digest('hex');
const stampFile = path.join(venv, STAMP);

if (args.includes('--if-needed') && fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8').trim() === wanted) {
  process.exit(0);
}

function findPython() {
  for (const candidate of [process.env.REPOTUNE_BASE_PYTHON, 'python3', 'python'].filter(Boolean)) {
    const r = spawnSync(candidate, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8' });
    if (r.status !== 0) continue;
    const [maj, min] = r.stdout.trim().split('.').map(Number);
    if (maj > MIN_PYTHON[0] || (maj === MIN_PYTHON[0] && min >= MIN_PYTHON[1])) return candidate;
    console.error(`setup-python: ${candidate} is Python ${r.stdout.trim()}; RepoTune needs ${MIN_PYTHON.join('.')}+.`);
  }
  return undefined;
}

if (!fs.existsSync(venvPython)) {
  const base = findPython();
  if (!base) {
    console.error(
      `setup-python: no Python ${MIN_PYTHON.join('.')}+ found. Install it (e.g. "apt-get install python3 python3-venv") ` +
        'or set REPOTUNE_BASE_PYTHON to its path, then run "node scripts/setup-python.mjs" again.',
    );
    process.exit(1);
  }
  console.error(`setup-python: creating ${venv} with ${base}…`);
  execFileSync(base, ['-m', 'venv', venv], { stdio: 'inherit' });
}

console.error('setup-python: installing the pinned trainer requirements (torch, transformers, peft, onnx…)…');
try {
  execFileSync(venvPython, ['-m', 'pip', 'install', '--disable-pip-version-check', '-q', '-r', REQUIREMENTS], { stdio: 'inherit' });
} catch {
  console.error(`setup-python: pip could not install ${REQUIREMENTS}. Check the network to PyPI and free disk space, then retry.`);
  process.exit(1);
}
fs.writeFileSync(stampFile, wanted + '\n');
console.error(`setup-python: ready (${venvPython}).`);
