// Creating the trainer environment for real, offline: `python3 -m venv` plus `pip install --no-index` from a wheel
// folder holding one tiny hand-made wheel (the real pins need PyPI). Covers success, a pip failure on a new and on
// an existing venv (nothing half-made is used afterwards), cancellation while pip runs, and a missing Python.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { INCOMPLETE_MARKER, STAMP_FILE, createTrainerEnv, findBasePython, pinnedTorch } from '../../server/src/environment/createTrainerEnv';
import { EnvSetupError } from '../../server/src/environment/setupErrors';
import { resolvePython, venvPython } from '../../server/src/training/python';
import { REPO_ROOT, tempDir } from '../helpers/paths';

const BASE_PYTHON = process.env.REPOTUNE_BASE_PYTHON ?? 'python3';
/** `python -m venv` takes seconds (ensurepip): cancel well inside it. */
const VENV_CANCEL_AFTER_MS = 500;
// resolvePython prefers REPOTUNE_PYTHON over the storage venv: these tests are about the venv.
delete process.env.REPOTUNE_PYTHON;

/** A minimal valid wheel (PEP 427) of `tinypkg`, written with the base Python's zipfile. */
function buildTinyWheel(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const script = `
import base64, hashlib, sys, zipfile
files = {
  "tinypkg/__init__.py": "ANSWER = 42\\n",
  "tinypkg-1.0.dist-info/METADATA": "Metadata-Version: 2.1\\nName: tinypkg\\nVersion: 1.0\\n",
  "tinypkg-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
def digest(text):
  return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
record = "".join(f"{name},{digest(text)},{len(text.encode())}\\n" for name, text in files.items())
record += "tinypkg-1.0.dist-info/RECORD,,\\n"
with zipfile.ZipFile(sys.argv[1] + "/tinypkg-1.0-py3-none-any.whl", "w") as z:
  for name, text in files.items():
    z.writestr(name, text)
  z.writestr("tinypkg-1.0.dist-info/RECORD", record)
`;
  execFileSync(BASE_PYTHON, ['-c', script, dir]);
}

function requirements(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

test('trainer environment: create, fail without leftovers, update, cancel', { timeout: 180_000 }, async (t) => {
  const root = tempDir('trainer-env');
  const wheels = path.join(root, 'wheels');
  buildTinyWheel(wheels);
  const storageDir = path.join(root, 'storage');
  const venvDir = path.join(storageDir, 'venv');
  const offline = ['--no-index', '--find-links', wheels];
  const good = requirements(root, 'good.txt', '# test pins\ntinypkg==1.0\n');
  const bad = requirements(root, 'bad.txt', 'tinypkg==1.0\nnot-on-this-index==9.9\n');
  const base = { venvDir, basePythons: [BASE_PYTHON], pipArgs: offline, torch: 'default' as const };

  await t.test('cancelling while the venv is created leaves nothing behind', async () => {
    const abort = new AbortController();
    const err = await createTrainerEnv({ ...base, requirementsFile: good, signal: abort.signal, onStep: () => setTimeout(() => abort.abort(), VENV_CANCEL_AFTER_MS) }).catch((e) => e);
    assert.ok(err instanceof EnvSetupError, String(err));
    assert.equal(err.kind, 'cancelled');
    assert.equal(fs.existsSync(venvDir), false, 'the half-made venv is removed');
  });

  await t.test('creates the venv with the requirements, stamps it, and the sidecar picks it', async () => {
    const lines: string[] = [];
    const steps: string[] = [];
    const r = await createTrainerEnv({ ...base, requirementsFile: good, onLine: (l) => lines.push(l), onStep: (s) => steps.push(s) });
    assert.equal(r.created, true);
    assert.equal(r.python, venvPython(venvDir));
    assert.equal(execFileSync(r.python, ['-c', 'import tinypkg; print(tinypkg.ANSWER)'], { encoding: 'utf8' }).trim(), '42');
    const stamp = fs.readFileSync(path.join(venvDir, STAMP_FILE), 'utf8').trim();
    assert.equal(stamp, crypto.createHash('sha256').update(fs.readFileSync(good)).digest('hex'));
    assert.equal(fs.existsSync(path.join(venvDir, INCOMPLETE_MARKER)), false);
    assert.ok(lines.some((l) => /Successfully installed tinypkg-1\.0/.test(l)), lines.join('\n'));
    assert.match(steps[0], /creating a virtual environment with Python 3\.\d+/);
    assert.equal(resolvePython({ storageDir }), r.python);
  });

  await t.test('an up-to-date venv is reused, not rebuilt', async () => {
    const again = await createTrainerEnv({ ...base, requirementsFile: good });
    assert.equal(again.created, false);
    assert.equal(resolvePython({ storageDir }), venvPython(venvDir));
  });

  await t.test('a failed update marks the venv incomplete (never used); the rebuild is cancellable while pip runs', async () => {
    const err = await createTrainerEnv({ ...base, requirementsFile: bad }).catch((e) => e);
    assert.ok(err instanceof EnvSetupError, String(err));
    assert.equal(err.kind, 'pip_failed');
    assert.match(err.message, /not-on-this-index/);
    assert.ok(fs.existsSync(path.join(venvDir, INCOMPLETE_MARKER)), 'marked incomplete');
    assert.notEqual(resolvePython({ storageDir }), venvPython(venvDir), 'an incomplete venv is never used');

    // The next run starts over; cancelled as soon as pip talks, its pip is killed and the new venv removed.
    const abort = new AbortController();
    const steps: string[] = [];
    const cancelled = await createTrainerEnv({
      ...base,
      requirementsFile: good,
      signal: abort.signal,
      onStep: (s) => steps.push(s),
      onLine: (l) => (/Looking in links|Processing|Collecting/.test(l) ? abort.abort() : undefined),
    }).catch((e) => e);
    assert.equal((cancelled as EnvSetupError).kind, 'cancelled', String(cancelled));
    assert.match(steps[0], /creating a virtual environment/, 'rebuilt from scratch');
    assert.equal(fs.existsSync(venvDir), false);
  });
});

test('no usable Python: a clear message, nothing created', async () => {
  const venvDir = path.join(tempDir('trainer-env-nopy'), 'venv');
  const err = await createTrainerEnv({ venvDir, requirementsFile: __filename, basePythons: ['/nonexistent/python3'] }).catch((e) => e);
  assert.equal((err as EnvSetupError).kind, 'python_missing');
  assert.match((err as Error).message, /Python missing: install Python 3\.10 or newer/);
  assert.equal(fs.existsSync(venvDir), false);
  assert.match(JSON.stringify(findBasePython([BASE_PYTHON])), /"version":"3\.\d+\.\d+"/);
});

test('the torch pin is read from the requirements (for the CPU index)', () => {
  const repoRequirements = fs.readFileSync(path.join(REPO_ROOT, 'server', 'trainer', 'requirements.txt'), 'utf8');
  assert.match(pinnedTorch(repoRequirements) ?? '', /^torch==\d+\.\d+\.\d+$/);
  assert.equal(pinnedTorch('# torch==1.0\ntorchvision==2.0\n'), undefined);
});
