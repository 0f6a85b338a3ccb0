/**
 * The "Get started with RepoTune" walkthrough (package.json contributes.walkthroughs, media/walkthrough/). It
 * opens by itself once, on the first activation in a trusted workspace (an untrusted one cannot fine-tune, so it
 * waits for trust), and never again automatically: "RepoTune: Get started" opens it on demand.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

/** `<publisher>.<name>#<walkthrough id>`, as workbench.action.openWalkthrough wants it. */
export const WALKTHROUGH_ID = 'repotune.repotune#firstRun';
/** globalState key: set once the walkthrough was opened automatically. */
export const WALKTHROUGH_SHOWN_KEY = 'repotune.walkthroughShown';
/** The same flag as a file in global storage: written at once, where globalState (kept by the client) may not be. */
const WALKTHROUGH_SHOWN_FILE = 'walkthrough-shown';

export async function openWalkthrough(): Promise<void> {
  await vscode.commands.executeCommand('workbench.action.openWalkthrough', WALKTHROUGH_ID, false);
}

export function openWalkthroughOnce(context: vscode.ExtensionContext): void {
  const flagFile = path.join(context.globalStorageUri.fsPath, WALKTHROUGH_SHOWN_FILE);
  if (context.globalState.get<boolean>(WALKTHROUGH_SHOWN_KEY) || fs.existsSync(flagFile)) return;
  const open = async () => {
    // Flag first: a second window activating at the same moment must not open it too.
    fs.mkdirSync(path.dirname(flagFile), { recursive: true });
    fs.writeFileSync(flagFile, `${new Date().toISOString()}\n`);
    await context.globalState.update(WALKTHROUGH_SHOWN_KEY, true);
    await openWalkthrough();
  };
  if (vscode.workspace.isTrusted) {
    void open().catch(() => undefined); // a failure to open it is not worth an error at start-up
    return;
  }
  const sub = vscode.workspace.onDidGrantWorkspaceTrust(() => {
    sub.dispose();
    void open().catch(() => undefined); // a failure to open it is not worth an error at start-up
  });
  context.subscriptions.push(sub);
}
