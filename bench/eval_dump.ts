/**
 * Looks inside an evaluation (issue 7): per arm, a handful of holdout tasks with the prompt the model got (decoded),
 * the expected middle, the shown completion and its scores. Predictions come from CompletionService, as in
 * server/src/eval/evaluate.ts, so the per-arm means here equal the evaluation report's; the prompt is rebuilt for
 * display. `--compare-plain` also scores each task with the plain (un-anchored) FIM prompt of buildEditorPrompt,
 * to see what anchoring the cursor line after the FIM middle token (completion/stablePrompt.ts) costs or gains.
 *
 *   node bench/eval_dump.mjs --model DIR --base-onnx DIR --adapter-onnx DIR --repo DIR [--tasks 8] [--compare-plain]
 */
import * as path from 'node:path';
import { harvest } from '../server/src/harvest/harvest';
import { buildRetrievalIndex, type RetrievalIndex } from '../server/src/retrieval/repoIndex';
import { buildTasks, type EvalTask } from '../server/src/eval/tasks';
import { editSimilarity, exactMatch, firstLineExactMatch } from '../server/src/eval/metrics';
import { cursorWindows, DEFAULT_WINDOW_BUDGET } from '../server/src/completion/context';
import { StablePromptBuilder } from '../server/src/completion/stablePrompt';
import { defaultFilters, runFilters, type FilterVerdict } from '../server/src/completion/filters';
import { postprocessCompletion } from '../server/src/completion/postprocess';
import { CompletionService, MAX_NEW_TOKENS, RETRIEVAL_BUDGET_MS } from '../server/src/completion/service';
import { OrtEngine } from '../server/src/completion/engine/ortEngine';
import { buildEditorPrompt } from '../server/src/examples/editorPrompt';
import { DEFAULT_BUDGET } from '../server/src/examples/promptBuilder';
import { detectFamily } from '../server/src/examples/families';
import { loadTokenizer } from '../server/src/models/tokenizer';

/** The evaluation's task seed and count (pipeline/activation.ts PIPELINE_EVAL_TASKS): the same tasks as the report. */
const SEED = 0;
const PIPELINE_TASKS = 64;
/** Characters of the prompt shown (its end: the part nearest the cursor). */
const SHOWN_PROMPT_CHARS = 400;

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : fallback;
  if (v === undefined) throw new Error(`missing --${name}`);
  return v;
}

async function main(): Promise<void> {
  const modelDir = arg('model');
  const shown = Number(arg('tasks', '8'));
  const comparePlain = process.argv.includes('--compare-plain');
  const harvested = await harvest(arg('repo'));
  const train = harvested.files.filter((f) => f.split === 'train');
  const holdout = harvested.files.filter((f) => f.split === 'holdout').map((f) => ({ path: f.path, text: f.text, language: f.language }));
  const retrieval = buildRetrievalIndex(train.map((f) => ({ path: f.path, text: f.text })));
  const tasks = buildTasks(holdout, SEED, PIPELINE_TASKS);
  const tok = loadTokenizer(modelDir);
  const family = detectFamily(tok, path.basename(modelDir));
  const show = (s: string) => JSON.stringify(s);

  /** The plain (un-anchored) FIM prompt of buildEditorPrompt, generated as the service generates. */
  const completePlain = async (engine: OrtEngine, task: EvalTask, index: RetrievalIndex | undefined) => {
    const { prefix, suffix } = cursorWindows(task.prefix + task.suffix, task.prefix.length, DEFAULT_WINDOW_BUDGET);
    const prompt = buildEditorPrompt(tok, family, { prefix, suffix, path: task.path }, { retrieval: index, retrievalBudgetMs: RETRIEVAL_BUDGET_MS });
    const filters = defaultFilters({ prefix, suffix });
    let verdict: FilterVerdict = { stop: false };
    const r = await engine.generate(prompt.ids, {
      maxNewTokens: MAX_NEW_TOKENS,
      stopIds: prompt.stopIds,
      onToken: (_id, ids) => {
        verdict = runFilters(filters, tok.decode(ids), false);
        return !verdict.stop;
      },
    });
    if (!verdict.stop) verdict = runFilters(filters, tok.decode(r.ids), true);
    const text = postprocessCompletion(verdict.stop ? verdict.keep : tok.decode(r.ids), suffix) ?? '';
    return { text, es: editSimilarity(text, task.target) };
  };

  for (const [arm, onnxDir, index] of [
    ['base', arg('base-onnx'), undefined],
    ['adapter', arg('adapter-onnx'), undefined],
    ['base+retrieval', arg('base-onnx'), retrieval],
    ['adapter+retrieval', arg('adapter-onnx'), retrieval],
  ] as [string, string, RetrievalIndex | undefined][]) {
    // The arm's predictions come from the serving pipeline itself, exactly as evaluate.ts scoreModel gets them.
    const service = await CompletionService.create({ modelDir, onnxDir, retrieval: index, adaptiveDebounce: false });
    const engine = comparePlain ? await OrtEngine.load(onnxDir) : undefined;
    const prompts = new StablePromptBuilder(tok, family, DEFAULT_BUDGET);
    try {
      const sums = { es: 0, plain: 0, em: 0, fl: 0, empty: 0 };
      for (const [i, task] of tasks.entries()) {
        const result = await service.complete({ text: task.prefix + task.suffix, offset: task.prefix.length, languageId: task.language, path: task.path });
        const text = result?.text ?? '';
        const es = editSimilarity(text, task.target);
        sums.es += es;
        sums.em += exactMatch(text, task.target);
        sums.fl += firstLineExactMatch(text, task.target);
        if (text === '') sums.empty++;
        const plain = engine ? await completePlain(engine, task, index) : undefined;
        if (plain) sums.plain += plain.es;
        if (i >= shown) continue;
        // The prompt the service built (rebuilt here for display: same windows, builder, budget and retrieval).
        const { prefix, suffix } = cursorWindows(task.prefix + task.suffix, task.prefix.length, DEFAULT_WINDOW_BUDGET);
        const prompt = prompts.build({ prefix, suffix, path: task.path }, { retrieval: index, retrievalBudgetMs: RETRIEVAL_BUDGET_MS });
        const decoded = tok.decode(prompt.ids);
        const mid = decoded.lastIndexOf(family.fimMiddle);
        const suf = decoded.lastIndexOf(family.fimSuffix, mid);
        const stats = service.lastStats;
        console.log(`\n--- ${arm} · task ${i} ${task.id} · ${prompt.ids.length} prompt tokens, ${prompt.context.length} snippets, anchored ${prompt.anchoredChars} chars, pending ${show(prompt.pendingText)}`);
        console.log(`prefix end:   ${show(decoded.slice(Math.max(0, suf - SHOWN_PROMPT_CHARS), suf))}`);
        console.log(`suffix start: ${show(decoded.slice(suf, Math.min(mid, suf + SHOWN_PROMPT_CHARS)))}`);
        console.log(`after middle: ${show(decoded.slice(mid))}`);
        console.log(`expected:     ${show(task.target)}`);
        console.log(`shown:        ${show(text)}  (${stats?.generatedTokens ?? 0} tokens, stopped by ${stats?.stoppedBy ?? '-'}, filter ${stats?.filterReason ?? '-'})`);
        console.log(`scores:       ES ${(es * 100).toFixed(1)} EM ${exactMatch(text, task.target)} FL-EM ${firstLineExactMatch(text, task.target)}`);
        if (plain) console.log(`plain FIM:    ${show(plain.text)}  ES ${(plain.es * 100).toFixed(1)}`);
      }
      const n = tasks.length;
      const pc = (x: number) => ((x / n) * 100).toFixed(1);
      console.log(`\n=== ${arm}: ${n} tasks · ES ${pc(sums.es)}${engine ? ` · ES with plain FIM prompts ${pc(sums.plain)}` : ''} · EM ${pc(sums.em)} · FL-EM ${pc(sums.fl)} · empty ${sums.empty}`);
    } finally {
      await service.dispose();
      await engine?.dispose();
    }
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
