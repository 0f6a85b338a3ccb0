// "Check environment": the real trainer worker's `env` answer (the project's Python) through the sidecar's
// checkTrainerEnvironment, the verdict drawn from it, and the verdicts of the other machines a user may have
// (GPU sizes, missing packages, no Python), which this CPU machine can only show as data.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { checkTrainerEnvironment } from '../../server/src/environment/checkEnvironment';
import { TrainerProcess } from '../../server/src/training/trainerProcess';
import type { TrainerEnvironment } from '../../server/src/protocol';
import { environmentVerdict, largestPresetFitting } from '../../src/environmentVerdict';
import { REPO_ROOT, TRAINER_DIR, pythonPath } from '../helpers/paths';

const GIB = 2 ** 30;
const quiet = () => undefined;

function env(python: Partial<NonNullable<TrainerEnvironment['python']>>): TrainerEnvironment {
  return {
    pythonPath: '/venv/bin/python',
    python: {
      version: '3.11.2', executable: '/venv/bin/python', torch: '2.15.0', cuda: false, deviceName: null, deviceMemTotal: null,
      deviceMemFree: null, packages: { torch: '2.15.0', transformers: '5.23.0', peft: '0.21.2' }, problems: [], ...python,
    },
  };
}

test('the project Python, asked through the real worker: facts and the CPU verdict', { timeout: 60_000 }, async () => {
  const trainer = new TrainerProcess({ python: pythonPath(), trainerDir: TRAINER_DIR, log: quiet });
  try {
    const report = await checkTrainerEnvironment(trainer, pythonPath());
    assert.equal(report.error, undefined);
    const p = report.python!;
    assert.equal(p.executable, execFileSync(pythonPath(), ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim());
    assert.match(p.version, /^3\.\d+\.\d+$/);
    assert.match(p.torch ?? '', /^\d+\.\d+/);
    for (const name of ['torch', 'transformers', 'peft', 'safetensors', 'tokenizers', 'numpy']) assert.ok(p.packages[name], `${name} version`);
    const verdict = environmentVerdict(report);
    assert.equal(verdict.kind, p.cuda ? 'gpu' : 'cpu');
    assert.match(verdict.facts.join('\n'), new RegExp(`Python ${p.version.replace(/\./g, '\\.')} \\(`));
    assert.match(verdict.facts.join('\n'), /transformers \d/);
  } finally {
    await trainer.dispose();
  }
});

test('a Python that cannot start is a verdict, not a failure', async () => {
  const missing = path.join(REPO_ROOT, 'no-such-dir', 'python3');
  const trainer = new TrainerProcess({ python: missing, trainerDir: TRAINER_DIR, log: quiet });
  try {
    const report = await checkTrainerEnvironment(trainer, missing);
    assert.equal(report.python, undefined);
    assert.match(report.error ?? '', /not found/);
    const verdict = environmentVerdict(report);
    assert.equal(verdict.kind, 'python-missing');
    assert.equal(verdict.headline, 'Python missing: install Python 3.10+ or set repotune.pythonPath');
    assert.match(verdict.facts[0], /no-such-dir/);
  } finally {
    await trainer.dispose();
  }
});

test('verdicts: GPU sizes, CPU, missing packages, old Python', () => {
  const h100 = environmentVerdict(env({ cuda: true, deviceName: 'NVIDIA H100', deviceMemTotal: 80 * GIB, deviceMemFree: 79 * GIB }));
  assert.equal(h100.kind, 'gpu');
  assert.equal(h100.headline, 'GPU ready (80.0 GiB: fits up to Qwen2.5-Coder 7B (base))');
  assert.match(h100.facts.join('\n'), /CUDA: yes, NVIDIA H100, 80\.0 GiB total, 79\.0 GiB free/);
  assert.equal(environmentVerdict(env({ cuda: true, deviceName: 'T4', deviceMemTotal: 15 * GIB, deviceMemFree: 15 * GIB })).largestPreset?.label, 'Qwen2.5-Coder 3B (base)');
  assert.match(environmentVerdict(env({ cuda: true, deviceName: 'small', deviceMemTotal: 2 * GIB, deviceMemFree: GIB })).headline, /too small for the presets/);
  assert.equal(largestPresetFitting(8 * GIB)?.label, 'Qwen2.5-Coder 1.5B (base)');

  const cpu = environmentVerdict(env({}));
  assert.equal(cpu.kind, 'cpu');
  assert.match(cpu.headline, /^CPU only: use the demo model or a remote GPU machine via VS Code Remote/);

  const noPeft = environmentVerdict(env({ packages: { torch: '2.15.0', transformers: null, peft: null } }));
  assert.equal(noPeft.kind, 'packages-missing');
  assert.equal(noPeft.headline, 'trainer packages missing (transformers, peft): run Create trainer environment');
  assert.equal(environmentVerdict(env({ torch: null, packages: {} })).kind, 'packages-missing');

  const old = environmentVerdict(env({ version: '3.8.10' }));
  assert.equal(old.kind, 'python-missing');
  assert.match(old.headline, /3\.8\.10 is too old/);
});
