/** The single-flight guard the fine-tune and create-environment commands share (src/singleFlight.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { singleFlight } from '../../src/singleFlight';

/** A job that stays in flight until the test settles it. */
function gate<T>() {
  let settle!: { resolve: (v: T) => void; reject: (e: unknown) => void };
  const promise = new Promise<T>((resolve, reject) => (settle = { resolve, reject }));
  return { promise, ...settle };
}

interface Case {
  readonly name: string;
  /** Keys of the jobs started, in order, while none of them has finished. */
  readonly starts: readonly string[];
  /** Which of those starts ran their job (the others were answered with their busy message). */
  readonly ran: readonly boolean[];
}

const CASES: readonly Case[] = [
  { name: 'one start runs', starts: ['fine-tune'], ran: [true] },
  { name: 'a second start with the same key is refused', starts: ['fine-tune', 'fine-tune'], ran: [true, false] },
  { name: 'every repeat is refused while the first is in flight', starts: ['a', 'a', 'a'], ran: [true, false, false] },
  { name: 'different keys run side by side', starts: ['fine-tune', 'setup-environment'], ran: [true, true] },
  { name: 'mixed keys: only the repeats are refused', starts: ['a', 'b', 'a', 'b', 'c'], ran: [true, true, false, false, true] },
];

for (const c of CASES) {
  test(`singleFlight: ${c.name}`, async () => {
    const told: string[] = [];
    const run = singleFlight((m) => told.push(m));
    const gates = c.starts.map(() => gate<string>());
    const ran: boolean[] = c.starts.map(() => false);
    const results = c.starts.map((key, i) =>
      run(key, `busy ${key} #${i}`, () => {
        ran[i] = true;
        return gates[i].promise;
      }),
    );
    assert.deepEqual(ran, c.ran, 'which jobs started (decided before any await)');
    const refused = c.starts.flatMap((key, i) => (c.ran[i] ? [] : [`busy ${key} #${i}`]));
    assert.deepEqual(told, refused, 'each refused start told the user its own message, once');
    gates.forEach((g, i) => g.resolve(`result ${i}`));
    const values = await Promise.all(results);
    assert.deepEqual(values, c.ran.map((r, i) => (r ? `result ${i}` : undefined)), 'a run resolves to its job, a refusal to undefined');
  });
}

test('singleFlight: the key is free again once the job resolves', async () => {
  const told: string[] = [];
  const run = singleFlight((m) => told.push(m));
  assert.equal(await run('k', 'busy', async () => 1), 1);
  assert.equal(await run('k', 'busy', async () => 2), 2);
  assert.deepEqual(told, []);
});

test('singleFlight: the key is freed when the job throws, and the error reaches the caller', async () => {
  const told: string[] = [];
  const run = singleFlight((m) => told.push(m));
  const first = gate<number>();
  const failing = run('k', 'busy', () => first.promise);
  assert.equal(await run('k', 'busy', async () => 2), undefined, 'refused while the failing job is in flight');
  first.reject(new Error('pip failed'));
  await assert.rejects(failing, /pip failed/);
  assert.equal(await run('k', 'busy', async () => 3), 3, 'a failure does not leave the key taken');
  assert.deepEqual(told, ['busy']);
});

test('singleFlight: separate runners do not share keys', async () => {
  const told: string[] = [];
  const a = singleFlight((m) => told.push(`a: ${m}`));
  const b = singleFlight((m) => told.push(`b: ${m}`));
  const held = gate<void>();
  const inA = a('k', 'busy', () => held.promise);
  assert.equal(await b('k', 'busy', async () => 'b ran'), 'b ran');
  held.resolve();
  await inA;
  assert.deepEqual(told, []);
});
