/** Run storage (the active-adapter pointer), Python resolution and the demo's probe choice. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { newRunDir, readActiveRun, workspaceDir, writeActiveRun } from '../../server/src/pipeline/runStore';
import { resolvePython, venvPython } from '../../server/src/training/python';
import { chooseProbe } from '../../server/src/pipeline/demo';
import { AUTO_STEPS_MAX, AUTO_STEPS_MIN, autoTrainingSteps } from '../../server/src/pipeline/fineTune';
import { tempDir } from '../helpers/paths';

test('active run pointer: written atomically, ignored when its export is gone', () => {
  const storage = tempDir('store');
  const ws = '/some/workspace';
  assert.equal(readActiveRun(storage, ws), undefined);
  const { runId, runDir } = newRunDir(storage, ws);
  assert.ok(runDir.startsWith(workspaceDir(storage, ws)));
  const onnxDir = path.join(runDir, 'onnx');
  fs.mkdirSync(onnxDir);
  fs.writeFileSync(path.join(onnxDir, 'model.onnx'), 'x');
  const run = { runId, runDir, modelDir: '/m', adapterDir: path.join(runDir, 'adapter'), onnxDir, activatedAt: 'now' };
  writeActiveRun(storage, ws, run);
  assert.deepEqual(readActiveRun(storage, ws), run);
  assert.deepEqual(fs.readdirSync(workspaceDir(storage, ws)).sort(), ['active.json', 'runs']);
  fs.rmSync(onnxDir, { recursive: true });
  assert.equal(readActiveRun(storage, ws), undefined);
  assert.notEqual(workspaceDir(storage, '/a/x'), workspaceDir(storage, '/b/x'), 'same folder name, different workspaces');
});

test('python resolution: setting, then env, then storage venv, then checkout venv', () => {
  const root = tempDir('py');
  const storageVenv = venvPython(path.join(root, 'storage', 'venv'));
  const sourceVenv = venvPython(path.join(root, 'src', '.venv'));
  const saved = process.env.REPOTUNE_PYTHON;
  delete process.env.REPOTUNE_PYTHON;
  try {
    const opts = { storageDir: path.join(root, 'storage'), sourceRoot: path.join(root, 'src') };
    assert.equal(resolvePython(opts), 'python3', 'nothing exists: python3 from PATH');
    for (const p of [sourceVenv, storageVenv]) {
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, '');
    }
    assert.equal(resolvePython(opts), storageVenv);
    process.env.REPOTUNE_PYTHON = sourceVenv;
    assert.equal(resolvePython(opts), sourceVenv);
    assert.equal(resolvePython({ ...opts, configured: '/missing/python' }), '/missing/python', 'an explicit setting wins, so its error names it');
  } finally {
    if (saved === undefined) delete process.env.REPOTUNE_PYTHON;
    else process.env.REPOTUNE_PYTHON = saved;
  }
});

test('demo probe: middle of the first long code line of a training file', () => {
  const text = 'import os\n# a comment line that is long enough to count\nconst total = items.reduce((a, b) => a + b, 0);\nnext();\n';
  const probe = chooseProbe([
    { path: 'held.ts', text, language: 'typescript', split: 'holdout' },
    { path: 'a.ts', text, language: 'typescript', split: 'train' },
  ]);
  assert.ok(probe);
  assert.equal(probe.path, 'a.ts');
  assert.equal(probe.line, 3);
  assert.equal(probe.prefix + probe.expected + probe.suffix, text);
  assert.equal(probe.expected, 'ce((a, b) => a + b, 0);');
  assert.equal(chooseProbe([{ path: 'x.md', text, language: 'markdown', split: 'train' }]), undefined);
});

test('automatic step count: about AUTO_STEPS_EPOCHS passes over the examples, within its bounds', () => {
  // 4 passes (AUTO_STEPS_EPOCHS) of micro-batches
  const cases: [examples: number, batch: number, steps: number][] = [
    [0, 4, AUTO_STEPS_MIN], // nothing to learn from still gets a bounded run (the harvest refuses an empty corpus before)
    [10, 4, AUTO_STEPS_MIN], // a tiny repository: 4 passes would be 10 steps, too few for warm-up and decay
    [864, 4, 864], // bench/eval_demo's repository B: 4 × 864 / 4
    [865, 4, 865], // rounded up: the last partial batch of a pass still counts
    [1000, 8, 500],
    [1_000_000, 4, AUTO_STEPS_MAX], // a large repository: bounded by time, not passes
  ];
  for (const [examples, batch, steps] of cases) assert.equal(autoTrainingSteps(examples, batch), steps, `${examples} examples, batch ${batch}`);
});
