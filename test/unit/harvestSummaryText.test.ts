import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harvestSummaryText } from '../../src/harvestSummaryText';
import type { HarvestSummaryParams } from '../../server/src/protocol';

const base: HarvestSummaryParams = {
  workspace: '/ws',
  manifestPath: '/runs/r/manifest.json',
  filesIn: 12,
  filesOut: 9,
  filesExcluded: 3,
  byReason: { lockfile: 1, generated: 2 },
  bytesIn: 40_000,
  bytes: 30_720,
  languages: { python: 7, markdown: 2 },
  secretsRedacted: { 'aws-access-key': 1, 'github-token': 2 },
  trainFiles: 8,
  holdoutFiles: 1,
  text: '',
};

test('says files kept and left out by reason (largest first), secrets by rule, languages and the holdout', () => {
  assert.equal(
    harvestSummaryText(base),
    '9 of 12 files kept (30.0 KiB; python 7, markdown 2), 3 left out (generated 2, lockfile 1); ' +
      '3 secrets redacted (github-token 2, aws-access-key 1); 8 to train on, 1 held out for evaluation.',
  );
});

test('says so when nothing was left out and no secret was found', () => {
  const text = harvestSummaryText({ ...base, filesExcluded: 0, byReason: {}, secretsRedacted: {}, languages: {} });
  assert.match(text, /^9 of 12 files kept \(30\.0 KiB\), nothing left out; no secrets found;/);
});

test('lists at most four reasons and marks the rest', () => {
  const byReason = { a: 5, b: 4, c: 3, d: 2, e: 1 };
  assert.match(harvestSummaryText({ ...base, byReason, secretsRedacted: { r: 1 } }), /\(a 5, b 4, c 3, d 2, …\); 1 secret redacted \(r 1\)/);
});
