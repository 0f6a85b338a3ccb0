/**
 * Feeds the acceptance tracker (acceptanceTracker.ts) from VS Code: the inline-completion middleware marks each
 * returned item shown and gives it a command, which VS Code runs when the item is accepted; document changes show
 * whether accepted text was edited soon after. Counts are kept in the workspace's storage (workspaceState) and
 * are never sent anywhere: not to the sidecar, not over the network.
 */
import * as vscode from 'vscode';
import type { Middleware } from 'vscode-languageclient/node';
import { AcceptanceTracker, EDIT_WINDOW_MS, RECENT_ITEMS, continuesSuggestion, type AcceptanceStore } from './acceptanceTracker';

type ProvideInline = NonNullable<Middleware['provideInlineCompletionItems']>;

/** Runs on accept (set as each item's command); internal, so it is not in the command palette. */
export const ACCEPTED_COMMAND = 'repotune.inlineCompletionAccepted';
const STORAGE_KEY = 'repotune.acceptance';
/** Counts are written at most this often (an accept burst is one write). */
const SAVE_DELAY_MS = 1_000;
/** Adapter key before the sidecar reported one. */
const NO_ADAPTER = 'none';

export class AcceptanceRecorder implements vscode.Disposable {
  private readonly tracker: AcceptanceTracker;
  private readonly changed = new vscode.EventEmitter<void>();
  /** The dashboard redraws on this. */
  readonly onDidChange = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [];
  private adapter = NO_ADAPTER;
  private nextId = 1;
  /** Text of recent items by id: where an accepted item's text now is, for the edited-after-accept watch. */
  private readonly insertTexts = new Map<string, string>();
  /** The suggestion shown last: where it was offered and its text. */
  private last: { doc: string; offset: number; text: string } | undefined;
  private saveTimer: NodeJS.Timeout | undefined;
  private expireTimer: NodeJS.Timeout | undefined;

  constructor(private readonly state: vscode.Memento) {
    this.tracker = new AcceptanceTracker(state.get<AcceptanceStore>(STORAGE_KEY, {}));
    this.disposables.push(
      this.changed,
      vscode.commands.registerCommand(ACCEPTED_COMMAND, (id: unknown) => this.onAccepted(String(id))),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (this.tracker.watching === 0 || e.contentChanges.length === 0) return;
        const before = this.tracker.counts();
        this.tracker.documentChanged(
          e.document.uri.toString(),
          e.contentChanges.map((c) => ({ offset: c.rangeOffset, length: c.rangeLength, text: c.text })),
          Date.now(),
        );
        if (JSON.stringify(before) !== JSON.stringify(this.tracker.counts())) this.update();
      }),
    );
  }

  counts(): AcceptanceStore {
    return this.tracker.counts();
  }

  /** The adapter the sidecar serves (from its status notifications): counts are kept per adapter. */
  setAdapter(adapter: string | undefined): void {
    this.adapter = adapter ?? NO_ADAPTER;
  }

  /**
   * The middleware: `next` asks the sidecar; the result is one shown suggestion (its items share an id and the
   * accept command). Typing through a suggestion re-requests it: when the new one is the rest of the one on screen,
   * it stays the same suggestion rather than a dismissal plus a new one.
   */
  readonly provide: ProvideInline = async (document, position, context, token, next) => {
    const result = await next(document, position, context, token);
    const items = Array.isArray(result) ? result : result?.items;
    const first = items?.[0]?.insertText;
    if (!items?.length || typeof first !== 'string' || token.isCancellationRequested) {
      this.tracker.requested();
      return result;
    }
    const id = String(this.nextId++);
    const offset = document.offsetAt(position);
    const last = this.last;
    const continues =
      last !== undefined && last.doc === document.uri.toString() && offset >= last.offset && offset - last.offset < last.text.length &&
      continuesSuggestion(last.text, document.getText().slice(last.offset, offset), first);
    for (const item of items) item.command = { command: ACCEPTED_COMMAND, title: 'RepoTune: completion accepted', arguments: [id] };
    this.tracker.shown(id, this.adapter, continues);
    this.last = { doc: document.uri.toString(), offset, text: first };
    this.insertTexts.set(id, first);
    if (this.insertTexts.size > RECENT_ITEMS) this.insertTexts.delete(this.insertTexts.keys().next().value as string);
    this.update();
    return result;
  };

  private onAccepted(id: string): void {
    const text = this.insertTexts.get(id);
    this.insertTexts.delete(id);
    const editor = vscode.window.activeTextEditor;
    const span = editor && text ? acceptedSpan(editor, text) : undefined;
    if (!this.tracker.accepted(id, Date.now(), span)) return;
    this.update();
    if (span) this.scheduleExpiry();
  }

  private scheduleExpiry(): void {
    clearTimeout(this.expireTimer);
    this.expireTimer = setTimeout(() => this.tracker.expire(Date.now()), EDIT_WINDOW_MS + 100);
  }

  private update(): void {
    this.changed.fire();
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      void this.state.update(STORAGE_KEY, this.tracker.counts());
    }, SAVE_DELAY_MS);
  }

  dispose(): void {
    clearTimeout(this.expireTimer);
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      void this.state.update(STORAGE_KEY, this.tracker.counts());
    }
    vscode.Disposable.from(...this.disposables).dispose();
  }
}

/**
 * VS Code has inserted the item and put the cursor after it, so its text ends at the cursor; when the cursor moved
 * already, the nearest copy before it (within the item's length) is taken. Undefined when it cannot be found.
 */
function acceptedSpan(editor: vscode.TextEditor, text: string): { doc: string; start: number; text: string } | undefined {
  const doc = editor.document;
  const end = doc.offsetAt(editor.selection.active);
  const from = Math.max(0, end - 2 * text.length);
  const at = doc.getText().slice(from, end + text.length).lastIndexOf(text);
  return at < 0 ? undefined : { doc: doc.uri.toString(), start: from + at, text };
}
