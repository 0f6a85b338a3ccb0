/**
 * "RepoTune: Generate model code" in VS Code: a short keyboard form (or a selected comment/docstring), the
 * generation streamed into an untitled preview, then Insert / Save as… / Discard. Nothing reaches the user's files
 * without one of those choices. The work (prompt, model, checks) is the sidecar's: server/src/generate/.
 */
import * as vscode from 'vscode';
import {
  Notifications, Requests, type GenerateModelCodeParams, type GenerateModelCodeResult, type GenerateProgressParams, type ModelCodeDefaults,
} from '../server/src/protocol';
import { generateGate, smokeTestAllowed } from '../server/src/generate/guard';
import { fieldsFromComment, FRAMEWORKS, parseFramework, parseLoss, parseTensors, SPEC_EXAMPLES, type SpecFields } from '../server/src/generate/spec';
import type { Ctx } from './ctx';
import { describeError } from './log';
import { openPreview, type Preview } from './generatePreview';

const TITLE = 'RepoTune: Generate model code';
const RUN_SMOKE = 'Check it parses, then run a smoke test';
const PARSE_ONLY = 'Check it parses';
/** The toast quotes the start of the last error; "Show checks" has all of it. */
const MAX_TOAST_ERROR_CHARS = 160;

/** What a field's input box needs: a prompt, its example, and the validator (the sidecar's own parser). */
const TEXT_STEPS: { key: 'task' | 'inputs' | 'outputs' | 'loss'; prompt: string; value: string; validate: (v: string) => void }[] = [
  { key: 'task', prompt: 'What should the model do?', value: '', validate: (v) => {
    if (!v.trim()) throw new Error('Describe the task, e.g. "classify 32x32 RGB images into 10 classes".');
  } },
  { key: 'inputs', prompt: 'Inputs: name: dtype[shape], separated by ";" (symbols like B are fine)', value: SPEC_EXAMPLES.inputs, validate: (v) => void parseTensors(v, 'inputs') },
  { key: 'outputs', prompt: 'Outputs: name: dtype[shape] (the loss uses the first)', value: SPEC_EXAMPLES.outputs, validate: (v) => void parseTensors(v, 'outputs') },
  { key: 'loss', prompt: 'Loss (cross_entropy, nll, mse, l1, huber, bce_with_logits)', value: SPEC_EXAMPLES.loss, validate: (v) => void parseLoss(v) },
];
const TOTAL_STEPS = TEXT_STEPS.length + 2;

let running = false;

export async function generateModelCode(ctx: Ctx): Promise<void> {
  if (running) {
    void vscode.window.showInformationMessage('RepoTune: a model code generation is already running.');
    return;
  }
  const folder = vscode.workspace.workspaceFolders?.[0];
  const gate = generateGate({ trusted: vscode.workspace.isTrusted, hasLocalFolder: folder?.uri.scheme === 'file' });
  if (!gate.allowed || !folder) {
    void vscode.window.showWarningMessage(gate.allowed ? 'RepoTune: open a folder first.' : gate.message);
    return;
  }
  running = true;
  try {
    await generate(ctx, folder);
  } finally {
    running = false;
  }
}

async function generate(ctx: Ctx, folder: vscode.WorkspaceFolder): Promise<void> {
  const client = await ctx.readyClient();
  const source = vscode.window.activeTextEditor;
  const selected = source && !source.selection.isEmpty ? source.document.getText(source.selection) : '';
  const fields: SpecFields = selected ? fieldsFromComment(selected) : {};
  const defaults = await client
    .sendRequest<ModelCodeDefaults>(Requests.modelCodeDefaults, { workspace: folder.uri.fsPath })
    .catch((err) => (ctx.log.warn(`Reading the repository's model classes: ${describeError(err)}`), { modelClasses: [] } as ModelCodeDefaults));
  const form = await askFields(fields, defaults);
  if (!form) return;
  // Explicit, per-generation confirmation; only offered in a trusted workspace (the gate above already holds).
  const smokeChoice = form.framework === 'torch' ? await askChecks() : PARSE_ONLY;
  if (smokeChoice === undefined) return;
  const runSmokeTest = smokeTestAllowed({ trusted: vscode.workspace.isTrusted, userConfirmed: smokeChoice === RUN_SMOKE });

  const requestId = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const preview = await openPreview(source && selected ? vscode.ViewColumn.Beside : vscode.ViewColumn.Active);
  const listener = client.onNotification(Notifications.generateProgress, (p: GenerateProgressParams) => {
    if (p.requestId === requestId) preview.show(p.code);
  });
  const params: GenerateModelCodeParams = {
    workspace: folder.uri.fsPath, requestId, fields: form, runSmokeTest,
    targetPath: source && selected ? vscode.workspace.asRelativePath(source.document.uri, false) : undefined,
  };
  ctx.log.info(`Generate model code: ${JSON.stringify(form)} (smoke test ${runSmokeTest ? 'on' : 'off'})`);
  let result: GenerateModelCodeResult;
  let cancelled = false;
  try {
    result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'RepoTune: generating model code', cancellable: true },
      (_progress, token) => {
        token.onCancellationRequested(() => (cancelled = true));
        return client.sendRequest<GenerateModelCodeResult>(Requests.generateModelCode, params, token);
      },
    );
  } catch (err) {
    await preview.discard();
    if (!cancelled) throw err;
    void vscode.window.showInformationMessage('RepoTune: model code generation cancelled.');
    return;
  } finally {
    listener.dispose();
  }
  await preview.show(result.code);
  ctx.log.info(`Generate model code:\n${result.summary}`);
  const smokeOutput = result.attempts.at(-1)?.smokeOutput;
  if (smokeOutput !== undefined) ctx.log.info(`Smoke test output:\n${smokeOutput}`);
  await offerActions(ctx, result, preview, source && selected ? source : undefined, folder);
}

async function askFields(initial: SpecFields, defaults: ModelCodeDefaults): Promise<SpecFields | undefined> {
  const out: SpecFields = { ...initial };
  for (const [i, step] of TEXT_STEPS.entries()) {
    if (out[step.key]?.trim()) continue; // from the selected comment
    const value = await vscode.window.showInputBox({
      title: `${TITLE} (${i + 1}/${TOTAL_STEPS})`, prompt: step.prompt, value: step.value, ignoreFocusOut: true,
      validateInput: (v) => {
        try {
          step.validate(v);
          return undefined;
        } catch (err) {
          return describeError(err);
        }
      },
    });
    if (value === undefined) return undefined;
    out[step.key] = value;
  }
  if (!out.framework?.trim() || !safeFramework(out.framework)) {
    const detected = defaults.framework;
    const items = [...FRAMEWORKS].sort((a, b) => (a === detected ? -1 : b === detected ? 1 : 0)).map((fw) => ({
      label: fw, description: fw === detected ? 'used in this repository' : undefined,
    }));
    const pick = await vscode.window.showQuickPick(items, { title: `${TITLE} (${TEXT_STEPS.length + 1}/${TOTAL_STEPS})`, placeHolder: 'Framework', ignoreFocusOut: true });
    if (!pick) return undefined;
    out.framework = pick.label;
  }
  return out;
}

function safeFramework(text: string): boolean {
  try {
    parseFramework(text);
    return true;
  } catch {
    return false;
  }
}

async function askChecks(): Promise<string | undefined> {
  const pick = await vscode.window.showQuickPick(
    [
      { label: PARSE_ONLY, description: 'runs nothing the model wrote' },
      { label: RUN_SMOKE, description: 'executes the generated code: subprocess, no network, temporary folder, timeout' },
    ],
    { title: `${TITLE} (${TOTAL_STEPS}/${TOTAL_STEPS})`, placeHolder: 'Checks before you accept the code', ignoreFocusOut: true },
  );
  return pick?.label;
}

async function offerActions(ctx: Ctx, result: GenerateModelCodeResult, preview: Preview, target: vscode.TextEditor | undefined, folder: vscode.WorkspaceFolder): Promise<void> {
  const verdict = result.cancelled
    ? 'cancelled'
    : result.ok
      ? `${result.className}: checks passed`
      : `${result.className}: checks FAILED after ${result.attempts.length} attempt(s): ${(result.attempts.at(-1)?.error?.split('\n')[0] ?? '').slice(0, MAX_TOAST_ERROR_CHARS)}`;
  const actions = [...(target ? ['Insert'] : []), 'Save as…', 'Discard', 'Show checks'];
  const show = result.ok ? vscode.window.showInformationMessage : vscode.window.showWarningMessage;
  const choice = await show(`RepoTune: generated model code (preview) — ${verdict}`, ...actions);
  if (choice === 'Insert' && target) {
    const edit = new vscode.WorkspaceEdit();
    const at = target.selection.end.with(undefined, target.document.lineAt(target.selection.end.line).text.length);
    edit.insert(target.document.uri, at, `\n\n${result.code}`);
    if (await vscode.workspace.applyEdit(edit)) await preview.discard();
  } else if (choice === 'Save as…') {
    const uri = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.joinPath(folder.uri, result.fileName), filters: { Python: ['py'] } });
    if (!uri) return;
    await vscode.workspace.fs.writeFile(uri, Buffer.from(result.code, 'utf8'));
    await preview.discard();
    await vscode.window.showTextDocument(uri);
  } else if (choice === 'Discard') {
    await preview.discard();
  } else if (choice === 'Show checks') {
    ctx.log.show();
  }
}
