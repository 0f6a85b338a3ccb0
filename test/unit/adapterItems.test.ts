/** What "Manage adapters" and the status bar tooltip show, from plain data (no VS Code). */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { RunSummary } from '../../server/src/protocol';
import { EXPORT_CHOICES, adapterActions, adapterRow, exportFolderName, exportUsage, mayReplaceFolder, runDateLabel, runIdLabel } from '../../src/adapterItems';
import { escapeMarkdown, tooltipMarkdown } from '../../src/statusTooltip';

const base: RunSummary = { runId: 'r', createdAt: '2026-11-23T17:16:08.793Z', active: false, activatable: true };

test('rows: the active run is marked; others say why they are not serving', () => {
  const active = adapterRow({ ...base, active: true, steps: 12, finalLoss: 1.23456, evaluation: { gatePassed: true, reason: 'wins', reportPath: '/e.json' } });
  assert.equal(active.label, '$(check) 2026-11-23 17:16:08 (active)');
  assert.equal(active.description, '12 steps · loss 1.235 · gate passed');
  assert.equal(active.detail, 'wins');
  const cancelled = adapterRow({ ...base, activatable: false, inactiveReason: 'Cancelled before export' });
  assert.match(cancelled.label, /circle-slash/);
  assert.equal(cancelled.description, 'not evaluated');
  assert.equal(cancelled.detail, 'Cancelled before export');
  assert.equal(runDateLabel('not-a-date'), 'not-a-date');
});

test('actions: never delete or re-activate the active run; activate only what was exported', () => {
  assert.deepEqual(adapterActions({ ...base, active: true }), []);
  assert.deepEqual(adapterActions({ ...base, activatable: false }), ['delete']);
  assert.deepEqual(adapterActions({ ...base, evaluation: { gatePassed: false, reason: 'x', reportPath: '/e' } }), ['activate', 'openEvaluation', 'delete']);
});

test('export: offered for every run with a saved adapter, active or not; folders named by run and format', () => {
  assert.deepEqual(adapterActions({ ...base, active: true, steps: 12 }), ['export']);
  assert.deepEqual(adapterActions({ ...base, steps: 12 }), ['activate', 'export', 'delete']);
  assert.deepEqual(EXPORT_CHOICES.map((c) => `${c.format}:${c.quantize}`), ['peft:null', 'merged:null', 'onnx:null', 'onnx:int8', 'onnx:int4', 'gguf:null', 'gguf:int8', 'gguf:int4']);
  assert.equal(exportFolderName('2026-11-23T17-16-08-793Z', EXPORT_CHOICES[3]), 'repotune-2026-11-23T17-16-08-onnx-int8');
  const gguf = EXPORT_CHOICES.find((c) => c.format === 'gguf' && c.quantize === 'int4')!;
  assert.equal(exportUsage(gguf, '/exports/q4'), 'Serve it with llama.cpp: llama-server -m /exports/q4/model.gguf (its /infill endpoint does fill-in-the-middle).');
  assert.equal(exportUsage(EXPORT_CHOICES[0], '/exports/peft'), '', 'formats without a usage line add nothing');
  assert.equal(runIdLabel('2026-11-23T17-16-08-793Z'), '2026-11-23 17:16:08');
  assert.equal(runIdLabel('odd-id'), 'odd-id');
});

test('tooltip: message escaped, command links trusted one by one, pause or resume by setting', () => {
  assert.equal(escapeMarkdown('run_1 *x* [a](b)'), 'run\\_1 \\*x\\* \\[a\\]\\(b\\)');
  const on = tooltipMarkdown('Serving adapter\nAdapter: /a/b_c', true);
  assert.match(on.markdown, /^Serving adapter {2}\nAdapter: \/a\/b\\_c\n/);
  assert.match(on.markdown, /\[\$\(debug-pause\) Pause completions\]\(command:repotune\.toggleCompletions\)/);
  assert.ok(on.commands.includes('repotune.manageAdapters') && on.commands.includes('repotune.restartServer'));
  for (const [, id] of on.markdown.matchAll(/\(command:([\w.]+)\)/g)) assert.ok(on.commands.includes(id), `${id} is trusted`);
  const off = tooltipMarkdown('Idle', false);
  assert.match(off.markdown, /Completions are paused/);
  assert.match(off.markdown, /Resume completions/);
});

const REPLACE_CASES: { target: string; replace: boolean; why: string }[] = [
  { target: '/data/exports', replace: true, why: 'an ordinary folder' },
  { target: '/work/repo', replace: false, why: 'the workspace folder' },
  { target: '/work/repo/', replace: false, why: 'the workspace folder, trailing slash' },
  { target: '/work', replace: false, why: 'a folder that holds the workspace' },
  { target: '/work/repo/out', replace: false, why: 'a folder inside the workspace' },
  { target: 'C:\\work\\repo\\', replace: false, why: 'a Windows path of the workspace' },
  { target: '/work/repository', replace: true, why: 'a sibling whose name starts alike' },
  { target: '/home/me', replace: false, why: 'the home folder' },
  { target: '/', replace: false, why: 'the root' },
];

for (const c of REPLACE_CASES) {
  test(`mayReplaceFolder: ${c.why}`, () => {
    const workspace = c.target.startsWith('C:') ? 'C:\\work\\repo' : '/work/repo';
    assert.equal(mayReplaceFolder(c.target, [workspace], '/home/me'), c.replace);
  });
}
