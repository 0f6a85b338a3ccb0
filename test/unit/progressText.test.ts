import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProgress, progressIncrement } from '../../src/progressText';

test('formats step, loss, throughput and ETA when the sidecar sends them', () => {
  const text = formatProgress({
    stage: 'train',
    message: 'Training',
    step: 12,
    totalSteps: 40,
    loss: 2.31449,
    tokensPerSecond: 1234.4,
    etaSeconds: 65,
  });
  assert.equal(text, 'Training: step 12/40 · loss 2.314 · 1,234 tok/s · ETA 1m 05s');
});

test('drops a trailing ellipsis of the message only when details follow', () => {
  assert.equal(formatProgress({ stage: 'train', message: 'Training a LoRA adapter…', step: 1, totalSteps: 2 }), 'Training a LoRA adapter: step 1/2');
  assert.equal(formatProgress({ stage: 'model', message: 'Preparing the model...' }), 'Preparing the model...');
});

test('falls back to the message, or the stage, alone', () => {
  assert.equal(formatProgress({ stage: 'harvest', message: 'Reading 12 files' }), 'Reading 12 files');
  assert.equal(formatProgress({ stage: 'export', message: '' }), 'export');
  assert.equal(formatProgress({ stage: 'train', message: 'T', etaSeconds: 7322 }), 'T: ETA 2h 02m');
});

test('progress increments are relative, never backwards, capped at 100', () => {
  assert.equal(progressIncrement(0, 10), 10);
  assert.equal(progressIncrement(10, 25), 15);
  assert.equal(progressIncrement(25, 20), 0);
  assert.equal(progressIncrement(90, 150), 10);
  assert.equal(progressIncrement(10, undefined), 0);
  assert.equal(progressIncrement(10, Number.NaN), 0);
});
