/**
 * One "Generate model code" request, as the sidecar and the CLI run it: parse the fields, read the repository's
 * style, load the served adapted model, generate with checks, and answer in the protocol's shape.
 */
import * as path from 'node:path';
import type { GenerateModelCodeParams, GenerateModelCodeResult, ModelCodeDefaults } from '../protocol';
import { describeAttempts, generateModelCode, type GenerationResult } from './generator';
import { openGenerationModel, readRepoStyle, requireActiveRun } from './session';
import { parseSpec } from './spec';

export interface GenerateEnv {
  readonly storageDir: string;
  readonly python: string;
  readonly trainerDir: string;
  readonly log?: (message: string) => void;
  readonly onCode?: (update: { attempt: number; code: string; done: boolean }) => void;
  readonly signal?: AbortSignal;
  /** Tests and the CLI may shorten these. */
  readonly maxNewTokens?: number;
  readonly smokeTimeoutMs?: number;
}

export async function modelCodeDefaults(workspace: string): Promise<ModelCodeDefaults> {
  const style = await readRepoStyle(workspace);
  return { framework: style.framework, modelClasses: style.examples.map((e) => `${e.className} (${e.path})`) };
}

export async function runGenerateRequest(params: GenerateModelCodeParams, env: GenerateEnv): Promise<GenerateModelCodeResult> {
  const workspace = path.resolve(params.workspace);
  const active = requireActiveRun(env.storageDir, workspace);
  // Read the repository first: its framework is the default for an empty field, and a bad spec fails before any load.
  const style = await readRepoStyle(workspace, undefined, env.signal);
  const spec = parseSpec(params.fields, { framework: style.framework });
  const examples = spec.framework === style.framework ? style.examples : (await readRepoStyle(workspace, spec.framework, env.signal)).examples;
  const model = await openGenerationModel(active);
  env.log?.(`generate: ${spec.framework} "${spec.task}" with adapter ${model.adapter}, ${examples.length} style example(s), smoke test ${params.runSmokeTest ? 'on' : 'off'}`);
  try {
    const result = await generateModelCode(
      { spec, runSmokeTest: params.runSmokeTest, targetPath: params.targetPath },
      {
        engine: model.engine, tokenizer: model.tokenizer, family: model.family, python: env.python, trainerDir: env.trainerDir,
        examples, onCode: env.onCode, signal: env.signal, maxNewTokens: env.maxNewTokens, smokeTimeoutMs: env.smokeTimeoutMs,
      },
    );
    env.log?.(`generate: ${describeAttempts(result).replace(/\n/g, '; ')}`);
    return toProtocol(result);
  } finally {
    await model.dispose();
  }
}

export function toProtocol(result: GenerationResult): GenerateModelCodeResult {
  return {
    code: result.code,
    className: result.className,
    fileName: result.fileName,
    ok: result.ok,
    cancelled: result.cancelled,
    summary: describeAttempts(result),
    attempts: result.attempts.map((a) => ({
      attempt: a.attempt,
      parseError: a.parse.error,
      smokePassed: a.smoke?.passed,
      smokeOutput: a.smoke?.output,
      error: a.error,
    })),
    smokeTest: result.smokeTest,
  };
}
