/** Continual re-tuning: the forgetting check's decision, the saved holdout, and checkpoint choice by completion metrics. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  checkForgetting, decideForgetting, FORGETTING_TOLERANCE, HOLDOUT_FILE, readHoldout, writeHoldout,
} from '../../server/src/eval/forgetting';
import { chooseCheckpoint, pickCheckpoint } from '../../server/src/eval/checkpointChoice';
import { MIN_TASKS_FOR_GATE } from '../../server/src/eval/gate';
import { ensureDemoModel, tempDir } from '../helpers/paths';
import { ensureDemoOnnx } from '../helpers/onnxModel';

const previous = Array.from({ length: 24 }, (_, i) => 0.4 + (i % 4) * 0.1);

test('forgetting: a clear drop beyond the tolerance is refused, with the numbers in the reason', () => {
  const forgot = decideForgetting(previous.map((s) => s - 0.1), previous);
  assert.equal(forgot.refuse, true);
  assert.match(forgot.reason, /forgot the previous holdout: edit similarity -10\.0 pts .*beyond the -2\.0 pts tolerance/);
  assert.ok(forgot.difference.high < 0);
});

test('forgetting: drops within the tolerance, drops not beyond chance, and gains are accepted', () => {
  const small = decideForgetting(previous.map((s) => s - FORGETTING_TOLERANCE / 2), previous);
  assert.equal(small.refuse, false, small.reason);
  // Mean drop of 5 pts, but half the tasks gain: the interval includes zero, so the drop is not shown to be real.
  const noisy = decideForgetting(previous.map((s, i) => (i % 2 === 0 ? s - 0.3 : s + 0.2)), previous);
  assert.ok(noisy.difference.mean < -FORGETTING_TOLERANCE && noisy.difference.high >= 0, JSON.stringify(noisy.difference));
  assert.equal(noisy.refuse, false, noisy.reason);
  const gain = decideForgetting(previous.map((s) => s + 0.1), previous);
  assert.equal(gain.refuse, false);
  assert.match(gain.reason, /No forgetting beyond -2\.0 pts .*\+10\.0 pts/);
  const few = decideForgetting(previous.slice(0, MIN_TASKS_FOR_GATE - 1).map((s) => s - 0.5), previous.slice(0, MIN_TASKS_FOR_GATE - 1));
  assert.equal(few.refuse, false);
  assert.match(few.reason, /skipped/);
});

test('the holdout saved with a run reads back; a missing or corrupt one reads as none', () => {
  const dir = tempDir('holdout');
  assert.equal(readHoldout(dir), undefined);
  const files = [{ path: 'a.py', text: 'x = 1\n', language: 'python' }];
  writeHoldout(dir, 5, files);
  assert.deepEqual(readHoldout(dir), { version: 1, seed: 5, files });
  fs.writeFileSync(path.join(dir, HOLDOUT_FILE), '{"version":1,"files":[{"path":3}]}');
  assert.equal(readHoldout(dir), undefined);
});

test('checkpoint choice: higher edit similarity wins; a tie keeps the final adapter', () => {
  const final = { name: 'final' as const, step: 200, scores: [0.5, 0.6, 0.7] };
  const best = { name: 'best-eval-loss' as const, step: 150, scores: [0.6, 0.7, 0.8] };
  const choice = pickCheckpoint([final, best]);
  assert.equal(choice.chosen, 'best-eval-loss');
  assert.match(choice.reason, /final \(step 200\) 60\.0% vs best-eval-loss \(step 150\) 70\.0%; using best-eval-loss/);
  assert.equal(pickCheckpoint([final, { ...best, scores: final.scores }]).chosen, 'final');
  assert.equal(pickCheckpoint([final, { ...best, scores: [0.1, 0.1, 0.1] }]).chosen, 'final');
});

test('real runs on the demo model: forgetting check against itself, checkpoint choice between equal exports', { timeout: 180_000 }, async () => {
  const modelDir = ensureDemoModel();
  const onnxDir = ensureDemoOnnx();
  const runDir = tempDir('prev-run');
  const text = 'class Square:\n    def __init__(self, side):\n        self.side = side\n\n    def area(self):\n        return self.side * self.side\n\n    def perimeter(self):\n        return 4 * self.side\n';
  const other = 'def total(items):\n    result = 0\n    for item in items:\n        result += item.price\n    return result\n\n\ndef average(items):\n    count = len(items)\n    return total(items) / count\n';
  const holdout = [{ path: 'shapes.py', language: 'python', text }, { path: 'prices.py', language: 'python', text: other }];
  const prev = { runDir, modelDir, onnxDir };
  assert.equal(await checkForgetting({ previous: prev, modelDir, newOnnxDir: onnxDir }), undefined, 'no saved holdout: no check');
  writeHoldout(runDir, 0, holdout);
  const report = await checkForgetting({ previous: prev, modelDir, newOnnxDir: onnxDir, maxTasks: MIN_TASKS_FOR_GATE });
  assert.ok(report);
  assert.equal(report.tasks, MIN_TASKS_FOR_GATE);
  assert.deepEqual(report.difference, { mean: 0, low: 0, high: 0 }, 'the same model forgets nothing');
  assert.equal(report.refuse, false, report.reason);

  let exports = 0;
  const { choice, winner } = await chooseCheckpoint({
    modelDir,
    candidates: [{ name: 'final', adapterDir: 'final-dir', onnxDir, step: 20 }, { name: 'best-eval-loss', adapterDir: 'best-dir', step: 10 }],
    holdout,
    seed: 0,
    maxTasks: 4,
    exportOnnx: async () => (exports++, onnxDir),
  });
  assert.equal(exports, 1, 'only the candidate without an export is exported');
  assert.equal(choice.tasks, 4);
  assert.equal(choice.chosen, 'final', 'equal scores keep the final adapter');
  assert.equal(winner.adapterDir, 'final-dir');
});
