/**
 * The `repotune` commands that use a fine-tuned adapter: complete (one completion at a file position, with the
 * same cross-file context the sidecar serves), generate (model code written and checked with the adapted model)
 * and export-adapter (a run's adapter written elsewhere as PEFT, merged weights or ONNX).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readActiveRun } from '../pipeline/runStore';
import { harvest } from '../harvest/harvest';
import { CompletionService } from '../completion/service';
import { buildRetrievalIndex } from '../retrieval/repoIndex';
import type { ExportFormat, ExportQuantization, GenerateModelCodeResult } from '../protocol';
import { ExportAdapterError, exportAdapter } from '../pipeline/exportAdapter';
import { runGenerateRequest } from '../generate/request';
import { SpecError } from '../generate/spec';
import { NoAdapterError } from '../generate/session';
import { abortOnSigint, type CliContext } from './context';
import { UsageError, positiveInt } from './flags';

export async function completeCommand({ values, target, storageDir }: CliContext): Promise<number> {
  if (!target || values.line === undefined || values.col === undefined) throw new UsageError('complete needs <file> --line N --col N');
  const file = path.resolve(target);
  const workspace = path.resolve(values.workspace ?? path.dirname(file));
  const active = readActiveRun(storageDir, workspace);
  if (!active) throw new UsageError(`No adapter for ${workspace} in ${storageDir}: run "repotune fine-tune ${workspace}" first.`);
  const text = fs.readFileSync(file, 'utf8');
  const offset = offsetAt(text, positiveInt(values.line, '--line') - 1, Number(values.col) - 1);
  // Cross-file context as the sidecar serves it: an index of the workspace's harvested files.
  const indexed = (await harvest(workspace, {})).files.map((f) => ({ path: f.path, text: f.text }));
  const service = await CompletionService.create({ modelDir: active.modelDir, onnxDir: active.onnxDir, retrieval: buildRetrievalIndex(indexed) });
  try {
    const result = await service.complete({ text, offset, languageId: path.extname(file).slice(1), path: path.relative(workspace, file) });
    console.log(result?.text ?? '');
  } finally {
    await service.dispose();
  }
  return 0;
}

function offsetAt(text: string, line: number, col: number): number {
  const lines = text.split('\n');
  if (line < 0 || line >= lines.length) throw new UsageError(`--line is outside the file (1..${lines.length})`);
  let offset = 0;
  for (let i = 0; i < line; i++) offset += lines[i].length + 1;
  return offset + Math.max(0, Math.min(col, lines[line].length));
}

export async function generateCommand({ values, storageDir, python, trainerDir }: CliContext): Promise<number> {
  if (!values.workspace) throw new UsageError('generate needs --workspace DIR (a repository fine-tuned with "repotune fine-tune")');
  const workspace = path.resolve(values.workspace);
  const fields = { task: values.task, inputs: values.inputs, outputs: values.outputs, loss: values.loss, framework: values.framework };
  try {
    const result = await runGenerateRequest(
      // --run is the explicit confirmation: the CLI user asked for the generated code to be executed.
      { workspace, requestId: 'cli', fields, runSmokeTest: values.run === true, targetPath: values.target },
      {
        storageDir,
        python: python(),
        trainerDir,
        signal: abortOnSigint(),
        log: (m) => (process.env.REPOTUNE_DEBUG ? console.error(m) : undefined),
      },
    );
    if (values.json) console.log(JSON.stringify(result, null, 2));
    else console.log(formatGenerateResult(result));
    return result.cancelled ? 130 : result.ok ? 0 : 1;
  } catch (err) {
    if (err instanceof SpecError || err instanceof NoAdapterError) throw new UsageError(err.message);
    throw err;
  }
}

function formatGenerateResult(r: GenerateModelCodeResult): string {
  const smoke = r.attempts.at(-1)?.smokeOutput;
  const parts = [`# ---- ${r.fileName} (${r.className}) ----`, r.code.trimEnd(), '# ---- checks ----', r.summary];
  if (smoke !== undefined) parts.push('# ---- smoke test output ----', smoke.trimEnd());
  return parts.join('\n');
}

export async function exportAdapterCommand({ values, target, storageDir, makeTrainer }: CliContext): Promise<number> {
  if (!target || !values.out || !values.format) throw new UsageError('export-adapter needs <repo>, --format peft|merged|onnx|gguf and --out <dir>');
  const abort = abortOnSigint();
  try {
    const result = await exportAdapter({
      storageDir,
      workspace: path.resolve(target),
      runId: values['run-id'],
      format: values.format as ExportFormat,
      quantize: (values.quantize ?? null) as ExportQuantization,
      targetDir: path.resolve(values.out),
      overwrite: values.force === true,
      makeWorker: makeTrainer,
      signal: abort,
      onProgress: (m) => console.error(m),
    });
    console.log(`exported run ${result.runId} to ${result.targetDir} (${result.files.length} files, ${(result.bytes / 1024 ** 2).toFixed(1)} MiB, ${result.seconds.toFixed(1)} s)`);
    return 0;
  } catch (err) {
    if (!(err instanceof ExportAdapterError)) throw err;
    const hint = err.kind === 'target_not_empty' ? ' (--force replaces it)' : '';
    console.error(`export-adapter: ${err.message}${hint}`);
    return err.kind === 'cancelled' ? 130 : 1;
  }
}
