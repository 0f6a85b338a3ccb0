/** The acceptance state machine, table-driven: each case is a sequence of editor events and the counts after it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AcceptanceTracker, EDIT_WINDOW_MS, acceptanceView, continuesSuggestion, type AcceptanceCounts } from '../../src/acceptanceTracker';

type Event =
  | ['shown', string]
  | ['continued', string]
  | ['requested']
  | ['accepted', string, number?]
  | ['edit', number, number, string, number?]
  | ['expire', number];

const DOC = 'file:///a.py';
/** Accepted items' text sits at offset 10 and is 5 characters long. */
const SPAN = { doc: DOC, start: 10, text: 'hello' };

function run(events: Event[]): AcceptanceCounts {
  const t = new AcceptanceTracker();
  for (const e of events) {
    if (e[0] === 'shown') t.shown(e[1], 'run-a');
    else if (e[0] === 'continued') t.shown(e[1], 'run-a', true);
    else if (e[0] === 'requested') t.requested();
    else if (e[0] === 'accepted') t.accepted(e[1], e[2] ?? 0, SPAN);
    else if (e[0] === 'edit') t.documentChanged(DOC, [{ offset: e[1], length: e[2], text: e[3] }], e[4] ?? 1);
    else t.expire(e[1]);
  }
  return t.counts()['run-a'] ?? { shown: 0, accepted: 0, dismissed: 0, editedAfterAccept: 0 };
}

const cases: Array<[string, Event[], Partial<AcceptanceCounts>]> = [
  ['shown, then Tab', [['shown', '1'], ['accepted', '1']], { shown: 1, accepted: 1, dismissed: 0 }],
  ['shown, then the next request: dismissed', [['shown', '1'], ['requested']], { shown: 1, dismissed: 1 }],
  ['shown, replaced by another item: dismissed', [['shown', '1'], ['shown', '2']], { shown: 2, dismissed: 1 }],
  ['accepted after a newer request (ghost still visible): moves to accepted', [['shown', '1'], ['requested'], ['accepted', '1']], { accepted: 1, dismissed: 0 }],
  ['typed through, then accepted: one item shown and accepted', [['shown', '1'], ['continued', '2'], ['continued', '3'], ['accepted', '3']], { shown: 1, accepted: 1, dismissed: 0 }],
  ['typed through, then a different item: one dismissal', [['shown', '1'], ['continued', '2'], ['shown', '3']], { shown: 2, dismissed: 1 }],
  ['a continuation of nothing pending is a new item', [['shown', '1'], ['requested'], ['continued', '2']], { shown: 2, dismissed: 1 }],
  ['a repeated accept counts once', [['shown', '1'], ['accepted', '1'], ['accepted', '1']], { accepted: 1 }],
  ['an unknown id counts nothing', [['accepted', 'x']], { shown: 0, accepted: 0 }],
  ['a request after an accept dismisses nothing', [['shown', '1'], ['accepted', '1'], ['requested']], { accepted: 1, dismissed: 0 }],
  ['typing after the accepted text is no edit', [['shown', '1'], ['accepted', '1'], ['edit', 15, 0, 'x']], { editedAfterAccept: 0 }],
  ['typing inside it is an edit', [['shown', '1'], ['accepted', '1'], ['edit', 12, 0, 'x']], { editedAfterAccept: 1 }],
  ['deleting part of it is an edit', [['shown', '1'], ['accepted', '1'], ['edit', 14, 1, '']], { editedAfterAccept: 1 }],
  ['edits before it move it, then an edit inside counts', [['shown', '1'], ['accepted', '1'], ['edit', 0, 0, 'abc'], ['edit', 15, 0, 'x']], { editedAfterAccept: 1 }],
  ['edits before it move it, then typing after it is no edit', [['shown', '1'], ['accepted', '1'], ['edit', 0, 0, 'abc'], ['edit', 18, 0, 'x']], { editedAfterAccept: 0 }],
  ['an edit after the window is not counted', [['shown', '1'], ['accepted', '1', 0], ['edit', 12, 0, 'x', EDIT_WINDOW_MS + 1]], { editedAfterAccept: 0 }],
  ['one accepted item is edited at most once', [['shown', '1'], ['accepted', '1'], ['edit', 12, 0, 'x'], ['edit', 11, 0, 'y']], { editedAfterAccept: 1 }],
];

for (const [name, events, expected] of cases) {
  test(name, () => {
    const counts = run(events);
    for (const [k, v] of Object.entries(expected)) assert.equal(counts[k as keyof AcceptanceCounts], v, `${k} in ${JSON.stringify(counts)}`);
  });
}

test('counts are per adapter, restored from storage, and summed with an acceptance rate', () => {
  const t = new AcceptanceTracker({ old: { shown: 4, accepted: 1, dismissed: 3, editedAfterAccept: 0 } });
  t.shown('1', 'new');
  t.accepted('1', 0);
  const view = acceptanceView(t.counts());
  assert.deepEqual(view.rows.map((r) => [r.adapter, r.rate]), [['old', 0.25], ['new', 1]]);
  assert.deepEqual({ ...view.total, adapter: undefined }, { adapter: undefined, shown: 5, accepted: 2, dismissed: 3, editedAfterAccept: 0, rate: 0.4 });
  assert.equal(acceptanceView({}).total.rate, null);
});

test('several changes in one event are applied from the last offset back', () => {
  const t = new AcceptanceTracker();
  t.shown('1', 'a');
  t.accepted('1', 0, SPAN);
  // One event: insert 3 before the span and type right after it (offsets in the document before the event).
  t.documentChanged(DOC, [{ offset: 0, length: 0, text: 'abc' }, { offset: 15, length: 0, text: '!' }], 1);
  assert.equal(t.counts().a.editedAfterAccept, 0);
  t.documentChanged(DOC, [{ offset: 13, length: 1, text: '' }], 2); // inside the moved span [13, 18)
  assert.equal(t.counts().a.editedAfterAccept, 1);
});

test('a suggestion continues the previous one when the typed text is its start and the rest matches', () => {
  const cases: Array<[string, string, string, boolean]> = [
    ['return a + b', 'ret', 'urn a + b', true],
    ['return a + b', 'ret', 'urn a', true], // a shorter rest
    ['return a + b', 'ret', 'urn a + b\n', true], // a longer one
    ['return a + b', '', 'return a + b', true], // offered again in place
    ['return a + b', 'rex', 'urn a + b', false], // typed something else
    ['return a + b', 'ret', 'ry: pass', false], // a different suggestion
    ['return a + b', 'return a + b', 'x', false], // typed all of it: the next one is new
    ['return a + b', 'ret', '', false],
  ];
  for (const [previous, typed, next, expected] of cases) assert.equal(continuesSuggestion(previous, typed, next), expected, `${previous} / ${typed} / ${next}`);
});
