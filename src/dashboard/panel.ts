/**
 * "RepoTune: Open dashboard": one webview panel (media/dashboard.js + .css) showing the running fine-tune (loss and
 * eval-loss curves, tokens/s, ETA, device memory), the last evaluation table and the adapter list. Strict CSP: no
 * inline code or style, scripts only with this page's nonce, resources only from media/.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { Requests, type ListRunsResult, type RunSummary } from '../../server/src/protocol';
import type { Ctx } from '../ctx';
import { describeError } from '../log';
import { COMMANDS } from '../settingsSchema';
import { evaluationView } from './evaluationView';
import { parseFromDashboard, type DashboardCommand, type ToDashboard } from './messages';
import { acceptanceView } from '../acceptanceTracker';

const VIEW_TYPE = 'repotune.dashboard';
const TITLE = 'RepoTune Dashboard';
/** Progress arrives once per training step; the page is redrawn at most this often. */
const TRAINING_POST_INTERVAL_MS = 250;

const COMMAND_IDS: Record<DashboardCommand, string> = {
  manageAdapters: COMMANDS.manageAdapters.command,
  showLogs: COMMANDS.showLogs.command,
  fineTune: COMMANDS.fineTune.command,
  toggleCompletions: COMMANDS.toggleCompletions.command,
};

export class DashboardPanel implements vscode.Disposable {
  private static current: DashboardPanel | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private trainingTimer: NodeJS.Timeout | undefined;

  static show(ctx: Ctx): void {
    if (DashboardPanel.current) DashboardPanel.current.panel.reveal();
    else DashboardPanel.current = new DashboardPanel(ctx);
  }

  private constructor(private readonly ctx: Ctx) {
    const media = vscode.Uri.joinPath(ctx.extension.extensionUri, 'media');
    this.panel = vscode.window.createWebviewPanel(VIEW_TYPE, TITLE, vscode.ViewColumn.Active, {
      enableScripts: true,
      localResourceRoots: [media],
      retainContextWhenHidden: false,
    });
    this.panel.webview.html = this.html(media);
    this.disposables.push(
      this.panel.onDidDispose(() => this.dispose()),
      this.panel.webview.onDidReceiveMessage((m) => void this.onMessage(m)),
      ctx.onProgress((p) => {
        this.scheduleTraining();
        if (p.stage === 'done') void this.refresh();
      }),
      ctx.acceptance.onDidChange(() => this.postAcceptance()),
    );
  }

  private readonly panel: vscode.WebviewPanel;

  private html(media: vscode.Uri): string {
    const webview = this.panel.webview;
    const nonce = crypto.randomBytes(16).toString('base64');
    const script = webview.asWebviewUri(vscode.Uri.joinPath(media, 'dashboard.js'));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(media, 'dashboard.css'));
    const csp = [
      "default-src 'none'",
      `style-src ${webview.cspSource}`,
      `script-src 'nonce-${nonce}'`,
      `img-src ${webview.cspSource}`,
      `font-src ${webview.cspSource}`,
    ].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}">
<title>${TITLE}</title>
</head>
<body>
<header>
  <h1>RepoTune</h1>
  <span id="stage" class="badge">…</span>
  <nav>
    <button data-command="fineTune">Fine-tune</button>
    <button data-command="manageAdapters" class="secondary">Manage adapters</button>
    <button data-command="showLogs" class="secondary">Logs</button>
    <button id="refresh" class="secondary">Refresh</button>
  </nav>
</header>
<section id="training">
  <h2>Training</h2>
  <p id="training-message"></p>
  <dl id="figures"></dl>
  <svg id="loss-chart" role="img" aria-label="Loss curve" viewBox="0 0 600 220" preserveAspectRatio="none"></svg>
  <p id="legend"><span class="swatch loss"></span> training loss <span class="swatch eval"></span> eval loss</p>
</section>
<section id="evaluation">
  <h2>Last evaluation</h2>
  <p id="evaluation-empty">No evaluation yet.</p>
  <table id="eval-table" hidden><thead><tr><th>Arm</th><th>Exact match</th><th>Edit similarity</th><th>First-line EM</th></tr></thead><tbody></tbody></table>
  <p id="gate-verdict"></p>
</section>
<section id="acceptance">
  <h2>Completions</h2>
  <table id="acceptance-table"><thead><tr><th>Adapter</th><th>Shown</th><th>Accepted</th><th>Dismissed</th><th>Edited after accept</th><th>Acceptance rate</th></tr></thead><tbody></tbody></table>
  <p class="note">Counted on this machine only, in this workspace's VS Code storage; never sent anywhere.</p>
</section>
<section id="adapters">
  <h2>Adapters</h2>
  <p id="runs-empty">No runs yet.</p>
  <table id="runs-table" hidden><thead><tr><th>Run</th><th>Steps</th><th>Final loss</th><th>Gate</th><th>Status</th></tr></thead><tbody></tbody></table>
</section>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
  }

  private async onMessage(raw: unknown): Promise<void> {
    const message = parseFromDashboard(raw);
    if (!message) return;
    if (message.type === 'command') await vscode.commands.executeCommand(COMMAND_IDS[message.command]);
    else await this.refresh();
  }

  private post(message: ToDashboard): void {
    void this.panel.webview.postMessage(message);
  }

  private postAcceptance(): void {
    this.post({ type: 'acceptance', acceptance: acceptanceView(this.ctx.acceptance.counts()) });
  }

  private scheduleTraining(): void {
    if (this.trainingTimer) return;
    this.trainingTimer = setTimeout(() => {
      this.trainingTimer = undefined;
      this.post({ type: 'training', training: this.ctx.training });
    }, TRAINING_POST_INTERVAL_MS);
  }

  /** Sends everything: training so far, the runs, and the evaluation of the active (else newest evaluated) run. */
  private async refresh(): Promise<void> {
    this.post({ type: 'training', training: this.ctx.training });
    this.postAcceptance();
    let runs: ListRunsResult;
    try {
      runs = await this.ctx.requireClient().sendRequest<ListRunsResult>(Requests.listRuns, {});
    } catch (err) {
      this.post({ type: 'runs', runs: null, error: describeError(err) });
      return;
    }
    this.post({ type: 'runs', runs });
    const evaluated: RunSummary | undefined = runs.runs.find((r) => r.active && r.evaluation) ?? runs.runs.find((r) => r.evaluation);
    let evaluation = null;
    if (evaluated?.evaluation) {
      try {
        evaluation = evaluationView(JSON.parse(fs.readFileSync(evaluated.evaluation.reportPath, 'utf8')));
      } catch (err) {
        this.ctx.log.warn(`Dashboard: could not read ${evaluated.evaluation.reportPath}: ${describeError(err)}`);
      }
    }
    this.post({ type: 'evaluation', evaluation, runId: evaluated?.runId });
  }

  dispose(): void {
    if (DashboardPanel.current === this) DashboardPanel.current = undefined;
    clearTimeout(this.trainingTimer);
    vscode.Disposable.from(...this.disposables).dispose();
    this.panel.dispose();
  }
}
