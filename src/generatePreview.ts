/**
 * The preview of a generation: an untitled Python document the code streams into. Untitled, so closing it writes
 * nothing anywhere; discard() closes it without the "save changes?" question.
 */
import * as vscode from 'vscode';

export interface Preview {
  /** Replaces the preview's text (coalesced: a burst of updates costs one edit per idle turn). */
  show(code: string): Promise<void>;
  /** Closes the preview without saving. */
  discard(): Promise<void>;
}

export async function openPreview(column: vscode.ViewColumn): Promise<Preview> {
  const doc = await vscode.workspace.openTextDocument({ language: 'python', content: '' });
  await vscode.window.showTextDocument(doc, { viewColumn: column, preview: false });
  let latest: string | undefined;
  let chain: Promise<void> = Promise.resolve();
  const apply = async () => {
    const text = latest;
    latest = undefined;
    if (text === undefined || doc.isClosed || doc.getText() === text) return;
    const edit = new vscode.WorkspaceEdit();
    edit.replace(doc.uri, new vscode.Range(doc.positionAt(0), doc.positionAt(doc.getText().length)), text);
    await vscode.workspace.applyEdit(edit);
  };
  return {
    show(code) {
      latest = code;
      chain = chain.then(apply, apply);
      return chain;
    },
    async discard() {
      await chain.catch(() => undefined);
      if (doc.isClosed) return;
      await vscode.window.showTextDocument(doc);
      await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    },
  };
}
