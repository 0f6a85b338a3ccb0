/** The demo model exported to ONNX once per checkout (what the completion engine serves in tests). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { CACHE_DIR, TRAINER_DIR, ensureDemoModel, pythonPath } from './paths';
import { OrtEngine, type GenerateOptions, type GenerateResult } from '../../server/src/completion/engine/ortEngine';
import type { CompletionEngine } from '../../server/src/completion/engine/engine';
import { buildFimPrompt } from '../../server/src/examples/promptBuilder';
import { detectFamily } from '../../server/src/examples/families';
import { loadTokenizer, type CodeTokenizer } from '../../server/src/models/tokenizer';

/** The exporter's files that shape the graph: export_onnx.py and every onnx_*.py (a listed subset went stale). */
const EXPORTER_SOURCE = /^(export_onnx|onnx_\w+)\.py$/;
/** Lines of the exporter's stderr quoted when it fails. */
const EXPORT_ERROR_TAIL_LINES = 20;

/** Exports (once) and returns the ONNX directory of the demo model. */
/** The demo model's ONNX export; `attention` other than the default ("buffer") exports that graph into its own dir. */
export function ensureDemoOnnx(attention?: 'gqa' | 'concat'): string {
  const modelDir = ensureDemoModel();
  const dir = path.join(CACHE_DIR, attention ? `demo-onnx-${attention}` : 'demo-onnx');
  const complete = fs.existsSync(path.join(dir, 'model.onnx')) && fs.existsSync(path.join(dir, 'repotune-onnx.json'));
  // Stale when older than the weights or than the exporter's code (a changed graph must be re-exported).
  const exporterDir = path.join(TRAINER_DIR, 'repotune_trainer');
  const exporter = fs.readdirSync(exporterDir).filter((f) => EXPORTER_SOURCE.test(f));
  const sources = [path.join(modelDir, 'model.safetensors'), ...exporter.map((f) => path.join(exporterDir, f))];
  if (complete && fs.statSync(path.join(dir, 'model.onnx')).mtimeMs >= Math.max(...sources.map((f) => fs.statSync(f).mtimeMs))) {
    return dir;
  }
  // Test files run in parallel processes: each exports to its own dir and the first rename wins.
  const staging = `${dir}.staging-${process.pid}`;
  try {
    execFileSync(pythonPath(), ['-m', 'repotune_trainer.export_onnx', '--model', modelDir, '--out', staging, ...(attention ? ['--attention', attention] : [])], {
      cwd: TRAINER_DIR,
      env: { ...process.env, PYTHONPATH: TRAINER_DIR },
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
    });
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim().split('\n').slice(-EXPORT_ERROR_TAIL_LINES).join('\n');
    fs.rmSync(staging, { recursive: true, force: true });
    throw new Error(`Exporting the demo model to ONNX failed (${modelDir} -> ${staging}):\n${stderr}`);
  }
  if (complete) fs.rmSync(dir, { recursive: true, force: true }); // stale: older than the demo model
  try {
    fs.renameSync(staging, dir);
  } catch {
    fs.rmSync(staging, { recursive: true, force: true }); // another test process put its export there first
  }
  return dir;
}

/** One generation by a fresh engine that never reuses a KV cache: the reference a cache-reusing run must equal. */
export async function coldGenerate(onnxDir: string, promptIds: readonly number[], opts: GenerateOptions): Promise<GenerateResult> {
  const cold = await OrtEngine.load(onnxDir, { reuseKvCache: false });
  try {
    return await cold.generate(promptIds, opts);
  } finally {
    await cold.dispose();
  }
}

/** Generates from `promptIds` and aborts its signal once `afterTokens` tokens are out: every engine must stop there. */
export async function generateAbortingAfter(
  engine: CompletionEngine,
  promptIds: readonly number[],
  afterTokens: number,
  maxNewTokens: number,
): Promise<GenerateResult> {
  const controller = new AbortController();
  return engine.generate(promptIds, {
    maxNewTokens,
    stopIds: [],
    signal: controller.signal,
    onToken: (_id, ids) => {
      if (ids.length === afterTokens) controller.abort();
    },
  });
}

/** The engines' test prompt: a Python function body to fill in, between this prefix and suffix. */
export const DEMO_PREFIX = 'import os\n\ndef read_lines(path):\n    with open(path) as f:\n        ';
export const DEMO_SUFFIX = '\n    return lines\n';

export interface DemoFim {
  readonly modelDir: string;
  readonly onnxDir: string;
  readonly tok: CodeTokenizer;
  /** FIM prompt ids of `prefix` (default DEMO_PREFIX) before DEMO_SUFFIX. */
  fim(prefix?: string): number[];
  readonly prompt: number[];
  readonly stopIds: Set<number>;
}

/** The demo model, its ONNX export and tokenizer, and the FIM prompt the engine tests generate from. */
export function demoFim(): DemoFim {
  const modelDir = ensureDemoModel();
  const onnxDir = ensureDemoOnnx();
  const tok = loadTokenizer(modelDir);
  const build = (prefix: string) => buildFimPrompt(tok, detectFamily(tok, 'demo'), { prefix, suffix: DEMO_SUFFIX });
  const built = build(DEMO_PREFIX);
  return { modelDir, onnxDir, tok, fim: (prefix = DEMO_PREFIX) => build(prefix).ids, prompt: built.ids, stopIds: new Set(built.stopIds) };
}
