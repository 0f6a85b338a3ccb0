import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  INITIAL_STATUS,
  adapterLabel,
  applyProgress,
  applyStatus,
  renderStatus,
  serverStopped,
} from '../../src/statusModel';

test('starts in the starting state with a spinner', () => {
  const view = renderStatus(INITIAL_STATUS);
  assert.match(view.text, /loading~spin/);
  assert.equal(view.isError, false);
});

test('training shows the percent from progress notifications, and the steps and loss in the tooltip', () => {
  let model = applyStatus(INITIAL_STATUS, { state: 'training', message: 'Training' });
  model = applyProgress(model, { stage: 'train', message: 'Training', percent: 41.6, step: 5, totalSteps: 12, loss: 2.5 });
  const view = renderStatus(model);
  assert.equal(view.text, '$(sync~spin) RepoTune: training 42%');
  assert.match(view.tooltip, /Step 5\/12, loss 2\.500/);
});

test('a progress notification alone moves the state to training or harvesting', () => {
  const idle = applyStatus(INITIAL_STATUS, { state: 'idle', message: 'Idle' });
  assert.equal(applyProgress(idle, { stage: 'harvest', message: 'Reading files' }).state, 'harvesting');
  assert.equal(applyProgress(idle, { stage: 'export', message: 'Exporting' }).state, 'training');
});

test('serving names the adapter by its run folder and drops stale progress', () => {
  let model = applyProgress(INITIAL_STATUS, { stage: 'train', message: 't', percent: 90 });
  model = applyStatus(model, { state: 'serving', message: 'Serving', adapter: '/s/runs/2024-01-01/adapter' });
  assert.equal(model.percent, undefined);
  assert.equal(renderStatus(model).text, '$(check) RepoTune: 2024-01-01');
  assert.match(renderStatus(model).tooltip, /Adapter: \/s\/runs\/2024-01-01\/adapter/);
});

test('error and stopped states are rendered as errors with the reason in the tooltip', () => {
  const error = renderStatus(applyStatus(INITIAL_STATUS, { state: 'error', message: 'Python not found' }));
  assert.equal(error.isError, true);
  assert.match(error.tooltip, /Python not found/);
  const stopped = renderStatus(serverStopped('dist/server.js is missing'));
  assert.equal(stopped.isError, true);
  assert.match(stopped.tooltip, /not running[\s\S]*dist\/server\.js is missing/);
});

test('adapterLabel handles run folders, plain names and bare "adapter"', () => {
  assert.equal(adapterLabel('/x/run-7/adapter'), 'run-7');
  assert.equal(adapterLabel('/x/my-adapter'), 'my-adapter');
  assert.equal(adapterLabel('adapter'), 'adapter');
});
