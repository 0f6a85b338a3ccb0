/**
 * Local acceptance tracking of inline completions, per adapter: shown → accepted (Tab) or dismissed (a newer
 * request came, or another item was accepted, before this one was), and accepted → edited-after-accept when the
 * accepted text is changed within EDIT_WINDOW_MS. Counts stay on this machine (the extension's workspace storage);
 * nothing here is ever sent anywhere.
 *
 * VS Code 1.91's stable API has no "item shown / discarded" event, so "shown" means "returned non-empty to the
 * editor" and an item not accepted before the next request counts as dismissed. An accept that arrives after a
 * newer request (the old ghost text was still visible) moves that item from dismissed to accepted, and typing
 * through a suggestion (the next request offers its rest) keeps it one item.
 * Pure (no 'vscode'): src/acceptance.ts feeds it the editor's events; unit-tested in plain Node.
 */

/** How long after an accept an edit of the accepted text counts as "edited after accept". */
export const EDIT_WINDOW_MS = 30_000;
/** Items remembered for a late accept (older ones can no longer be moved from dismissed to accepted). */
export const RECENT_ITEMS = 32;

export interface AcceptanceCounts {
  shown: number;
  accepted: number;
  dismissed: number;
  editedAfterAccept: number;
}

/** Counts per adapter (run id; "none" before any adapter served). */
export type AcceptanceStore = Record<string, AcceptanceCounts>;

/** One change of a document, as VS Code reports it (offsets in the document before the change). */
export interface TextChange {
  offset: number;
  length: number;
  text: string;
}

interface Item {
  adapter: string;
  state: 'shown' | 'accepted' | 'dismissed';
}

interface Watch {
  adapter: string;
  doc: string;
  start: number;
  text: string;
  until: number;
}

const empty = (): AcceptanceCounts => ({ shown: 0, accepted: 0, dismissed: 0, editedAfterAccept: 0 });

export class AcceptanceTracker {
  private readonly store: AcceptanceStore;
  private readonly items = new Map<string, Item>();
  private pending: string | undefined;
  private watches: Watch[] = [];

  constructor(saved: AcceptanceStore = {}) {
    this.store = Object.fromEntries(Object.entries(saved).map(([k, v]) => [k, { ...empty(), ...v }]));
  }

  counts(): AcceptanceStore {
    return Object.fromEntries(Object.entries(this.store).map(([k, v]) => [k, { ...v }]));
  }

  /** A new completion request: the item still on screen from the last one was not taken. */
  requested(): void {
    this.dismissPending();
  }

  /**
   * An item was returned to the editor. `continuesPending`: the user typed the start of the item still on screen
   * and this one offers the rest of it, which the editor shows as the same suggestion: one item, not a dismissal.
   */
  shown(id: string, adapter: string, continuesPending = false): void {
    const pending = this.pending ? this.items.get(this.pending) : undefined;
    const same = continuesPending && pending?.state === 'shown';
    if (!same) this.dismissPending();
    this.items.set(id, { adapter, state: 'shown' });
    if (this.items.size > RECENT_ITEMS) this.items.delete(this.items.keys().next().value as string);
    if (same) this.items.delete(this.pending!);
    this.pending = id;
    if (!same) this.bump(adapter, 'shown', 1);
  }

  /**
   * The item's command ran: the user accepted it. `span` (where its text now is in which document) starts the
   * edited-after-accept watch; without it the accept still counts. Returns false for an unknown or repeated id.
   */
  accepted(id: string, now: number, span?: { doc: string; start: number; text: string }): boolean {
    const item = this.items.get(id);
    if (!item || item.state === 'accepted') return false;
    if (item.state === 'dismissed') this.bump(item.adapter, 'dismissed', -1);
    item.state = 'accepted';
    if (this.pending === id) this.pending = undefined;
    this.bump(item.adapter, 'accepted', 1);
    if (span && span.text.length > 0) this.watches.push({ adapter: item.adapter, ...span, until: now + EDIT_WINDOW_MS });
    return true;
  }

  /** Edits of a document: before a watched span they move it; touching it counts as edited-after-accept. */
  documentChanged(doc: string, changes: readonly TextChange[], now: number): void {
    this.expire(now);
    for (const watch of this.watches.filter((w) => w.doc === doc)) {
      for (const c of [...changes].sort((a, b) => b.offset - a.offset)) {
        const end = watch.start + watch.text.length;
        if (c.offset + c.length <= watch.start) {
          watch.start += c.text.length - c.length;
        } else if (c.offset < end) {
          this.edited(watch);
          break;
        }
      }
    }
  }

  /** Ends watches whose window is over (the text stayed as accepted). */
  expire(now: number): void {
    this.watches = this.watches.filter((w) => w.until > now);
  }

  /** Spans still watched (for the caller's timer). */
  get watching(): number {
    return this.watches.length;
  }

  private edited(watch: Watch): void {
    this.watches = this.watches.filter((w) => w !== watch);
    this.bump(watch.adapter, 'editedAfterAccept', 1);
  }

  private dismissPending(): void {
    const item = this.pending ? this.items.get(this.pending) : undefined;
    this.pending = undefined;
    if (!item || item.state !== 'shown') return;
    item.state = 'dismissed';
    this.bump(item.adapter, 'dismissed', 1);
  }

  private bump(adapter: string, key: keyof AcceptanceCounts, by: number): void {
    const counts = (this.store[adapter] ??= empty());
    counts[key] = Math.max(0, counts[key] + by);
  }
}

/**
 * Whether a new suggestion is the rest of the previous one: the user typed `typed` (the start of `previous`) and
 * the new text continues what remains (or the same suggestion was offered again at the same place).
 */
export function continuesSuggestion(previous: string, typed: string, next: string): boolean {
  if (!previous.startsWith(typed) || typed.length >= previous.length) return false;
  const rest = previous.slice(typed.length);
  return next.length > 0 && (rest.startsWith(next) || next.startsWith(rest));
}

export interface AcceptanceRow extends AcceptanceCounts {
  adapter: string;
  /** accepted / (accepted + dismissed); null before any item was decided. */
  rate: number | null;
}

/** What the dashboard shows: one row per adapter (most shown first) and the total. */
export function acceptanceView(store: AcceptanceStore): { rows: AcceptanceRow[]; total: AcceptanceRow } {
  const row = (adapter: string, c: AcceptanceCounts): AcceptanceRow => ({
    adapter,
    ...c,
    rate: c.accepted + c.dismissed > 0 ? c.accepted / (c.accepted + c.dismissed) : null,
  });
  const rows = Object.entries(store)
    .map(([adapter, c]) => row(adapter, c))
    .sort((a, b) => b.shown - a.shown || a.adapter.localeCompare(b.adapter));
  const sum = empty();
  for (const r of rows) for (const k of Object.keys(sum) as (keyof AcceptanceCounts)[]) sum[k] += r[k];
  return { rows, total: row('all adapters', sum) };
}
