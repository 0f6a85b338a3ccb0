/** Evaluation: metrics against hand-computed values, tasks from a holdout, the gate, and a real two-arm run. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  bitsPerByte, bootstrapMean, editSimilarity, exactMatch, firstLineExactMatch, levenshtein, pairedDifference,
} from '../../server/src/eval/metrics';
import { buildTasks } from '../../server/src/eval/tasks';
import { decideGate, MIN_TASKS_FOR_GATE } from '../../server/src/eval/gate';
import { evaluateAdapter } from '../../server/src/eval/evaluate';
import { formatReport } from '../../server/src/eval/report';
import { ensureDemoModel } from '../helpers/paths';
import { ensureDemoOnnx } from '../helpers/onnxModel';

test('metrics match hand-computed values', () => {
  assert.equal(levenshtein('kitten', 'sitting'), 3);
  assert.equal(levenshtein('', 'abc'), 3);
  assert.equal(editSimilarity('kitten', 'sitting'), 1 - 3 / 7);
  assert.equal(editSimilarity('', ''), 1);
  assert.equal(editSimilarity('return x  \n', 'return x'), 1, 'trailing whitespace does not count');
  assert.equal(exactMatch('a = 1\nb = 2', 'a = 1\nb = 2\n'), 1);
  assert.equal(exactMatch('a = 1', 'a = 2'), 0);
  assert.equal(firstLineExactMatch('a = 1\nwrong', 'a = 1\nb = 2'), 1);
  assert.equal(firstLineExactMatch('a = 2\nb = 2', 'a = 1\nb = 2'), 0);
  assert.equal(bitsPerByte(Math.LN2 * 8, 4), 2, '8 bits over 4 bytes');
});

test('bootstrap intervals: exact for constant scores, bracket the mean, deterministic per seed', () => {
  assert.deepEqual(bootstrapMean([0.5, 0.5, 0.5]), { mean: 0.5, low: 0.5, high: 0.5 });
  const scores = [0, 1, 0, 1, 1, 0, 1, 1, 0, 1];
  const e = bootstrapMean(scores, 3);
  assert.equal(e.mean, 0.6);
  assert.ok(e.low < 0.6 && e.high > 0.6 && e.low >= 0 && e.high <= 1, JSON.stringify(e));
  assert.deepEqual(bootstrapMean(scores, 3), e);
  const d = pairedDifference([1, 1, 1, 1], [0, 0, 0, 0]);
  assert.deepEqual(d, { mean: 1, low: 1, high: 1 });
  assert.throws(() => pairedDifference([1], [1, 2]), /same tasks/);
});

test('tasks come from the holdout with the target cut out, deterministically', () => {
  const text = 'def area(w, h):\n    total = w * h\n    return total\n\n\ndef perimeter(w, h):\n    return 2 * (w + h)\n';
  const files = [{ path: 'geo.py', text, language: 'python' }];
  const tasks = buildTasks(files, 1);
  assert.ok(tasks.length >= 3, `tasks: ${tasks.length}`);
  for (const t of tasks) {
    assert.ok(text.startsWith(t.prefix) && text.endsWith(t.suffix) && t.prefix + t.target + t.suffix === text, t.id);
    assert.ok(t.target.trim().length > 0);
  }
  assert.deepEqual(buildTasks(files, 1), tasks);
  assert.equal(buildTasks(files, 1, 2).length, 2, 'size budget');
});

test('the gate refuses a worse adapter and too few tasks, and activates a clear win', () => {
  const n = MIN_TASKS_FOR_GATE * 2;
  const base = { name: 'base+retrieval', scores: Array.from({ length: n }, (_, i) => 0.5 + (i % 3) * 0.1) };
  const worse = { name: 'adapter+retrieval', scores: base.scores.map((s) => s - 0.2) };
  const better = { name: 'adapter+retrieval', scores: base.scores.map((s, i) => s + 0.15 + (i % 2) * 0.05) };
  const refused = decideGate(worse, base);
  assert.equal(refused.activate, false);
  assert.match(refused.reason, /does not beat base\+retrieval on edit similarity: -20\.0 pts/);
  const won = decideGate(better, base);
  assert.equal(won.activate, true, won.reason);
  assert.ok(won.difference.low > 0);
  const few = decideGate({ ...better, scores: better.scores.slice(0, 3) }, { ...base, scores: base.scores.slice(0, 3) });
  assert.equal(few.activate, false);
  assert.match(few.reason, /too few/);
});

test('a real evaluation of the demo model against itself: two arms, bits per byte, gate refuses', { timeout: 180_000 }, async () => {
  const modelDir = ensureDemoModel();
  const onnxDir = ensureDemoOnnx();
  const holdout = [
    { path: 'shapes.py', language: 'python', text: 'class Square:\n    def __init__(self, side):\n        self.side = side\n\n    def area(self):\n        return self.side * self.side\n' },
  ];
  const report = await evaluateAdapter({ modelDir, baseOnnxDir: onnxDir, adapterOnnxDir: onnxDir, holdout, seed: 0, maxTasks: 6 });
  assert.deepEqual(report.arms.map((a) => a.name), ['base', 'adapter']);
  assert.deepEqual(report.arms[0].predictions, report.arms[1].predictions, 'same model, same predictions');
  assert.ok(report.bitsPerByte.base > 0 && Math.abs(report.bitsPerByte.base - report.bitsPerByte.adapter) < 1e-9);
  assert.equal(report.gate.activate, false);
  assert.deepEqual(report.weights, { base: 'fp32', adapter: 'fp32' });
  assert.match(formatReport(report), /holdout, fp32 weights[\s\S]*edit similarity[\s\S]*bits per byte[\s\S]*gate: /);
  assert.match(formatReport({ ...report, weights: { base: 'fp32', adapter: 'int4' } }), /base fp32 and adapter int4 weights/);
});
