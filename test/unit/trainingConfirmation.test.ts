import { test } from 'node:test';
import assert from 'node:assert/strict';
import { awaitConfirmation } from '../../server/src/pipeline/trainingConfirmation';

const never = () => new Promise<boolean>(() => undefined);

test('the answer decides: yes starts, no cancels, a failed request cancels', async () => {
  assert.equal(await awaitConfirmation(async () => true, undefined, 1_000), 'start');
  assert.equal(await awaitConfirmation(async () => false, undefined, 1_000), 'cancel');
  assert.equal(await awaitConfirmation(() => Promise.reject(new Error('client gone')), undefined, 1_000), 'cancel');
});

test('no answer within the timeout ends the wait', async () => {
  assert.equal(await awaitConfirmation(never, undefined, 20), 'timeout');
});

test('cancelling the run ends the wait, also when it was cancelled before asking', async () => {
  const abort = new AbortController();
  const waiting = awaitConfirmation(never, abort.signal, 60_000);
  abort.abort();
  assert.equal(await waiting, 'aborted');
  let asked = false;
  assert.equal(await awaitConfirmation(async () => (asked = true), abort.signal, 60_000), 'aborted');
  assert.equal(asked, false);
});
