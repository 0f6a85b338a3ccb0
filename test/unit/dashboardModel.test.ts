/** The dashboard's data: training curves from progress notifications, the evaluation table, webview messages. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EMPTY_TRAINING, MAX_CURVE_POINTS, applyTrainingProgress } from '../../src/dashboard/trainingHistory';
import { evaluationView } from '../../src/dashboard/evaluationView';
import { parseFromDashboard } from '../../src/dashboard/messages';
import type { ProgressParams } from '../../server/src/protocol';

const step = (n: number, extra: Partial<ProgressParams> = {}): ProgressParams => ({
  stage: 'train', message: `step ${n}`, step: n, totalSteps: 10, loss: 3 - n / 10, tokensPerSecond: 900, etaSeconds: 10 - n, deviceMemoryBytes: 1 << 30, ...extra,
});

test('training: one loss point per step, eval loss only when it changes, a new run starts a new curve', () => {
  let t = applyTrainingProgress(EMPTY_TRAINING, { stage: 'model', message: 'Preparing', percent: 0 });
  t = applyTrainingProgress(t, step(0));
  for (let n = 1; n <= 4; n++) t = applyTrainingProgress(t, step(n, n >= 2 ? { evalLoss: n < 4 ? 2.5 : 2.2 } : {}));
  t = applyTrainingProgress(t, step(4, { loss: 2.55 })); // the same step again replaces its point
  assert.deepEqual(t.loss.map((p) => p.step), [1, 2, 3, 4]);
  assert.equal(t.loss[3].value, 2.55);
  assert.deepEqual(t.evalLoss, [{ step: 2, value: 2.5 }, { step: 4, value: 2.2 }]);
  assert.equal(t.tokensPerSecond, 900);
  assert.equal(t.etaSeconds, 6);
  t = applyTrainingProgress(t, { stage: 'export', message: 'Exporting' });
  assert.equal(t.etaSeconds, undefined, 'no ETA outside training');
  assert.equal(t.loss.length, 4, 'the finished curve stays for a dashboard opened later');
  t = applyTrainingProgress(t, { stage: 'model', message: 'Preparing', percent: 0 });
  assert.deepEqual([t.loss, t.evalLoss], [[], []]);
});

test('training: a very long run keeps a bounded, thinned curve ending at the last step', () => {
  let t = EMPTY_TRAINING;
  const total = MAX_CURVE_POINTS * 3;
  for (let n = 1; n <= total; n++) t = applyTrainingProgress(t, step(n, { totalSteps: total }));
  assert.ok(t.loss.length <= MAX_CURVE_POINTS, `${t.loss.length} points`);
  assert.equal(t.loss[t.loss.length - 1].step, total);
  assert.equal(t.loss[0].step, 1);
});

test('evaluation view: four arms with intervals and the gate; malformed reports give null', () => {
  const iv = (mean: number) => ({ mean, low: mean - 0.01, high: mean + 0.01 });
  const arm = (name: string) => ({ name, exactMatch: iv(0.1), editSimilarity: iv(0.5), firstLineExactMatch: iv(0.2), scores: [], predictions: [] });
  const report = {
    version: 1, seed: 0, tasks: [{ id: 'a' }, { id: 'b' }],
    arms: ['base', 'adapter', 'base+retrieval', 'adapter+retrieval'].map(arm),
    bitsPerByte: { base: 5.9, adapter: 4.9 },
    weights: { base: 'int4', adapter: 'int4' },
    gate: { activate: false, reason: 'not better', compared: ['adapter+retrieval', 'base+retrieval'], difference: iv(-0.06) },
    createdAt: '2026-11-23T17:47:32.285Z',
  };
  const view = evaluationView(report);
  assert.ok(view);
  assert.equal(view.tasks, 2);
  assert.deepEqual(view.arms.map((a) => a.name), ['base', 'adapter', 'base+retrieval', 'adapter+retrieval']);
  assert.equal('scores' in view.arms[0], false, 'per-task data stays out of the page');
  assert.deepEqual(view.gate.compared, ['adapter+retrieval', 'base+retrieval']);
  assert.deepEqual(view.bitsPerByte, { base: 5.9, adapter: 4.9 });
  assert.equal(view.weights, 'int4');
  assert.equal(evaluationView({ ...report, weights: { base: 'fp32', adapter: 'int8' } })?.weights, 'base fp32, adapter int8');
  assert.equal(evaluationView({ ...report, weights: undefined })?.weights, undefined, 'older reports have none');
  assert.equal(evaluationView(null), null);
  assert.equal(evaluationView({ arms: [arm('base')] }), null, 'no gate');
  assert.equal(evaluationView({ ...report, arms: [{ name: 'base', exactMatch: iv(0.1) }] }), null, 'missing metrics');
});

test('messages from the webview: only the known ones pass', () => {
  assert.deepEqual(parseFromDashboard({ type: 'ready' }), { type: 'ready' });
  assert.deepEqual(parseFromDashboard({ type: 'command', command: 'manageAdapters' }), { type: 'command', command: 'manageAdapters' });
  assert.equal(parseFromDashboard({ type: 'command', command: 'workbench.action.terminal.new' }), undefined);
  assert.equal(parseFromDashboard('ready'), undefined);
  assert.equal(parseFromDashboard(null), undefined);
});

test('the dashboard page has no inline script or style (the CSP forbids them)', () => {
  const root = path.resolve(__dirname, '..', '..', '..');
  const panel = fs.readFileSync(path.join(root, 'src', 'dashboard', 'panel.ts'), 'utf8');
  assert.doesNotMatch(panel, /\sstyle=|<style|on(click|load)=/);
  assert.match(panel, /script-src 'nonce-\$\{nonce\}'/);
  assert.match(panel, /default-src 'none'/);
  const script = fs.readFileSync(path.join(root, 'media', 'dashboard.js'), 'utf8');
  assert.doesNotMatch(script, /innerHTML|setAttribute\('style'|eval\(/);
});
