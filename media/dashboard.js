// RepoTune dashboard webview. Messages: see src/dashboard/messages.ts (ToDashboard / FromDashboard).
// No inline code or style (CSP): everything is built with DOM calls and styled by media/dashboard.css classes.
// @ts-check
(function () {
  // eslint-disable-next-line no-undef
  const vscode = acquireVsCodeApi();
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const CHART = { width: 600, height: 220, pad: 30 };
  const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

  function text(tag, content, className) {
    const el = document.createElement(tag);
    el.textContent = content;
    if (className) el.className = className;
    return el;
  }

  function pct(x) {
    return `${(x * 100).toFixed(1)}%`;
  }

  function intervalCell(iv) {
    return `${pct(iv.mean)} [${pct(iv.low)}, ${pct(iv.high)}]`;
  }

  function duration(seconds) {
    if (seconds === undefined || seconds === null) return '—';
    const s = Math.round(seconds);
    return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
  }

  function bytes(n) {
    if (!n) return '—';
    return n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(2)} GiB` : `${(n / (1 << 20)).toFixed(0)} MiB`;
  }

  function renderTraining(t) {
    $('stage').textContent = t.stage === 'none' ? 'idle' : t.stage;
    $('training-message').textContent = t.message;
    const last = t.loss[t.loss.length - 1];
    const lastEval = t.evalLoss[t.evalLoss.length - 1];
    const figures = [
      ['Step', t.step !== undefined && t.totalSteps ? `${t.step}/${t.totalSteps}` : '—'],
      ['Loss', last ? last.value.toFixed(3) : '—'],
      ['Eval loss', lastEval ? lastEval.value.toFixed(3) : '—'],
      ['Tokens/s', t.tokensPerSecond ? t.tokensPerSecond.toFixed(0) : '—'],
      ['ETA', t.stage === 'train' ? duration(t.etaSeconds) : '—'],
      ['Device memory', bytes(t.deviceMemoryBytes)],
    ];
    const dl = $('figures');
    dl.replaceChildren();
    for (const [k, v] of figures) {
      const div = document.createElement('div');
      div.append(text('dt', k), text('dd', v));
      div.dataset.figure = k;
      dl.append(div);
    }
    drawChart(t.loss, t.evalLoss);
  }

  function drawChart(loss, evalLoss) {
    const svg = $('loss-chart');
    svg.replaceChildren();
    const all = loss.concat(evalLoss);
    if (all.length === 0) {
      const empty = document.createElementNS(SVG_NS, 'text');
      empty.setAttribute('x', String(CHART.width / 2));
      empty.setAttribute('y', String(CHART.height / 2));
      empty.setAttribute('class', 'chart-empty');
      empty.textContent = 'No training steps yet';
      svg.append(empty);
      return;
    }
    const maxStep = Math.max(1, ...all.map((p) => p.step));
    const lo = Math.min(...all.map((p) => p.value));
    const hi = Math.max(...all.map((p) => p.value));
    const span = hi - lo || 1;
    const x = (step) => CHART.pad + (step / maxStep) * (CHART.width - 2 * CHART.pad);
    const y = (v) => CHART.height - CHART.pad - ((v - lo) / span) * (CHART.height - 2 * CHART.pad);
    const axis = document.createElementNS(SVG_NS, 'path');
    axis.setAttribute('d', `M${CHART.pad},${CHART.pad} V${CHART.height - CHART.pad} H${CHART.width - CHART.pad}`);
    axis.setAttribute('class', 'chart-axis');
    svg.append(axis);
    for (const [value, label] of [[hi, hi.toFixed(2)], [lo, lo.toFixed(2)]]) {
      const t = document.createElementNS(SVG_NS, 'text');
      t.setAttribute('x', '2');
      t.setAttribute('y', String(y(value) + 4));
      t.setAttribute('class', 'chart-label');
      t.textContent = label;
      svg.append(t);
    }
    for (const [points, cls] of [[loss, 'loss-line'], [evalLoss, 'eval-line']]) {
      if (points.length === 0) continue;
      const line = document.createElementNS(SVG_NS, 'polyline');
      line.setAttribute('points', points.map((p) => `${x(p.step).toFixed(1)},${y(p.value).toFixed(1)}`).join(' '));
      line.setAttribute('class', cls);
      svg.append(line);
      // The latest point as a dot: a run of one step (or a cancelled one) still shows where it got to.
      const lastPoint = points[points.length - 1];
      const dot = document.createElementNS(SVG_NS, 'circle');
      dot.setAttribute('cx', x(lastPoint.step).toFixed(1));
      dot.setAttribute('cy', y(lastPoint.value).toFixed(1));
      dot.setAttribute('r', '3');
      dot.setAttribute('class', `${cls} last-point`);
      svg.append(dot);
    }
  }

  function renderEvaluation(ev, runId) {
    const table = /** @type {HTMLTableElement} */ ($('eval-table'));
    const body = table.tBodies[0];
    body.replaceChildren();
    $('evaluation-empty').hidden = !!ev;
    table.hidden = !ev;
    if (!ev) {
      $('gate-verdict').textContent = '';
      return;
    }
    for (const arm of ev.arms) {
      const tr = document.createElement('tr');
      tr.append(text('td', arm.name), text('td', intervalCell(arm.exactMatch)), text('td', intervalCell(arm.editSimilarity)), text('td', intervalCell(arm.firstLineExactMatch)));
      body.append(tr);
    }
    const verdict = $('gate-verdict');
    verdict.className = ev.gate.activate ? 'verdict pass' : 'verdict fail';
    const bpb = ev.bitsPerByte ? ` Bits per byte: base ${ev.bitsPerByte.base.toFixed(3)}, adapter ${ev.bitsPerByte.adapter.toFixed(3)}.` : '';
    const reason = /[.!?]$/.test(ev.gate.reason) ? ev.gate.reason : `${ev.gate.reason}.`;
    const weights = ev.weights ? `, ${ev.weights} weights` : '';
    verdict.textContent = `Gate ${ev.gate.activate ? 'passed' : 'not passed'} (${ev.tasks} tasks${weights}, run ${runId ?? '?'}): ${reason}${bpb}`;
  }

  function renderRuns(result, error) {
    const table = /** @type {HTMLTableElement} */ ($('runs-table'));
    const body = table.tBodies[0];
    body.replaceChildren();
    const runs = result ? result.runs : [];
    $('runs-empty').textContent = error ? `Could not list the runs: ${error}` : 'No runs yet.';
    $('runs-empty').hidden = runs.length > 0;
    table.hidden = runs.length === 0;
    for (const run of runs) {
      const tr = document.createElement('tr');
      if (run.active) tr.className = 'active';
      const gate = run.evaluation ? (run.evaluation.gatePassed ? 'passed' : 'failed') : '—';
      tr.append(
        text('td', run.createdAt.replace('T', ' ').slice(0, 19)),
        text('td', run.steps === undefined ? '—' : String(run.steps)),
        text('td', run.finalLoss === undefined ? '—' : run.finalLoss.toFixed(3)),
        text('td', gate),
        text('td', run.active ? 'active' : run.inactiveReason || ''),
      );
      body.append(tr);
    }
  }

  function renderAcceptance(view) {
    const table = /** @type {HTMLTableElement} */ ($('acceptance-table'));
    const body = table.tBodies[0];
    body.replaceChildren();
    // Adapter rows, then the total (the only row before any completion was shown).
    const rows = view.rows.length > 1 ? view.rows.concat([view.total]) : view.rows.length ? view.rows : [view.total];
    for (const row of rows) {
      const tr = document.createElement('tr');
      if (row === view.total) tr.className = 'total';
      tr.dataset.adapter = row.adapter;
      tr.append(
        // Run ids are start times made file-safe: show them as the adapter table does.
        text('td', row.adapter.replace(/^(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})-\d{3}Z$/, '$1 $2:$3:$4')),
        text('td', String(row.shown)),
        text('td', String(row.accepted)),
        text('td', String(row.dismissed)),
        text('td', String(row.editedAfterAccept)),
        text('td', row.rate === null ? '—' : pct(row.rate)),
      );
      body.append(tr);
    }
  }

  window.addEventListener('message', (event) => {
    const m = event.data;
    if (m.type === 'acceptance') renderAcceptance(m.acceptance);
    else if (m.type === 'training') renderTraining(m.training);
    else if (m.type === 'runs') renderRuns(m.runs, m.error);
    else if (m.type === 'evaluation') renderEvaluation(m.evaluation, m.runId);
  });
  for (const button of document.querySelectorAll('button[data-command]')) {
    button.addEventListener('click', () => vscode.postMessage({ type: 'command', command: /** @type {HTMLElement} */ (button).dataset.command }));
  }
  $('refresh').addEventListener('click', () => vscode.postMessage({ type: 'refresh' }));
  vscode.postMessage({ type: 'ready' });
})();
