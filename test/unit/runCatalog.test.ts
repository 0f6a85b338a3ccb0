/** The run catalogue: listing with reasons, activate, rollback through the history, delete (never the active run). */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { activateRun, deleteRun, listRuns, rollbackRun, runIdToIso } from '../../server/src/pipeline/runCatalog';
import { readActiveRun, workspaceDir } from '../../server/src/pipeline/runStore';
import { tempDir } from '../helpers/paths';

const WS = '/work/some-repo';

/** Writes a run folder the way the pipeline leaves it: adapter metadata, optionally an export and an evaluation. */
function makeRun(storage: string, modelDir: string, runId: string, opts: { exported: boolean; gate?: boolean; loss?: number }): string {
  const runDir = path.join(workspaceDir(storage, WS), 'runs', runId);
  fs.mkdirSync(path.join(runDir, 'adapter'), { recursive: true });
  fs.writeFileSync(
    path.join(runDir, 'adapter', 'repotune-adapter.json'),
    JSON.stringify({ base_model: modelDir, steps: 12, final_loss: opts.loss ?? 1.5 }),
  );
  if (opts.exported) {
    fs.mkdirSync(path.join(runDir, 'onnx'));
    fs.writeFileSync(path.join(runDir, 'onnx', 'model.onnx'), 'onnx');
  }
  if (opts.gate !== undefined) {
    fs.writeFileSync(path.join(runDir, 'evaluation.json'), JSON.stringify({ gate: { activate: opts.gate, reason: opts.gate ? 'wins' : 'no better than base' } }));
  }
  return runDir;
}

test('run ids read back as ISO times', () => {
  assert.equal(runIdToIso('2026-11-23T17-16-08-793Z'), '2026-11-23T17:16:08.793Z');
  assert.equal(runIdToIso('odd-name'), 'odd-name');
});

test('lists runs newest first with steps, loss, evaluation and why each is not active', () => {
  const storage = tempDir('catalog-list');
  const model = tempDir('catalog-model');
  assert.deepEqual(listRuns(storage, WS), { runs: [] });
  makeRun(storage, model, '2026-01-01T00-00-00-000Z', { exported: true, gate: false });
  makeRun(storage, model, '2026-01-02T00-00-00-000Z', { exported: false, loss: 0.75 });
  makeRun(storage, model, '2026-01-03T00-00-00-000Z', { exported: true, gate: true });
  activateRun(storage, WS, '2026-01-03T00-00-00-000Z');
  const { runs, rollbackTo } = listRuns(storage, WS);
  assert.deepEqual(runs.map((r) => r.runId), ['2026-01-03T00-00-00-000Z', '2026-01-02T00-00-00-000Z', '2026-01-01T00-00-00-000Z']);
  assert.equal(rollbackTo, undefined, 'nothing was active before');
  const [newest, cancelled, gated] = runs;
  assert.equal(newest.active, true);
  assert.equal(newest.inactiveReason, undefined);
  assert.deepEqual(newest.evaluation?.gatePassed, true);
  assert.equal(cancelled.active, false);
  assert.equal(cancelled.activatable, false);
  assert.equal(cancelled.finalLoss, 0.75);
  assert.equal(cancelled.steps, 12);
  assert.match(cancelled.inactiveReason ?? '', /never exported/);
  assert.match(gated.inactiveReason ?? '', /gate held it back: no better than base/);
  assert.equal(gated.createdAt, '2026-01-01T00:00:00.000Z');
});

test('activate, roll back step by step, and refuse what cannot be done', () => {
  const storage = tempDir('catalog-switch');
  const model = tempDir('catalog-model');
  const [a, b, c, cancelled] = ['2026-02-01T00-00-00-000Z', '2026-02-02T00-00-00-000Z', '2026-02-03T00-00-00-000Z', '2026-02-04T00-00-00-000Z'];
  for (const id of [a, b, c]) makeRun(storage, model, id, { exported: true });
  makeRun(storage, model, cancelled, { exported: false });
  assert.throws(() => rollbackRun(storage, WS), /no previously active adapter/);
  activateRun(storage, WS, a);
  activateRun(storage, WS, b);
  activateRun(storage, WS, c);
  assert.equal(listRuns(storage, WS).rollbackTo, b);
  assert.throws(() => activateRun(storage, WS, cancelled), /cannot be activated.*never exported/);
  assert.throws(() => activateRun(storage, WS, '../../etc'), /no run/);
  assert.throws(() => deleteRun(storage, WS, c), /is the active adapter/);

  assert.equal(rollbackRun(storage, WS).runId, b);
  assert.equal(readActiveRun(storage, WS)?.runId, b);
  assert.equal(listRuns(storage, WS).rollbackTo, a, 'a second rollback steps further back, not back to c');
  deleteRun(storage, WS, a);
  assert.equal(listRuns(storage, WS).rollbackTo, undefined, 'a deleted run is no rollback target');
  assert.deepEqual(listRuns(storage, WS).runs.map((r) => r.runId), [cancelled, c, b]);

  // A run that served its best checkpoint's export serves that one again when re-activated.
  const bestOnnx = path.join(workspaceDir(storage, WS), 'runs', c, 'onnx-best-eval-loss');
  fs.mkdirSync(bestOnnx);
  fs.writeFileSync(path.join(bestOnnx, 'model.onnx'), 'onnx');
  const cDir = path.join(workspaceDir(storage, WS), 'runs', c);
  fs.writeFileSync(path.join(cDir, 'served.json'), JSON.stringify({ adapterDir: path.join(cDir, 'best'), onnxDir: bestOnnx }));
  assert.equal(activateRun(storage, WS, c).onnxDir, bestOnnx);

  fs.rmSync(model, { recursive: true });
  assert.throws(() => activateRun(storage, WS, c), /no longer on disk/);
});
