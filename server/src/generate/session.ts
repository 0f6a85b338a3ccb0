/**
 * What a generation needs besides the spec, gathered once per request: the served adapted model (the workspace's
 * active run: its tokenizer, FIM family and ONNX export) and the repository's style (framework, model classes).
 * Shared by the sidecar and the CLI so both generate from exactly the same inputs.
 */
import * as path from 'node:path';
import { detectFamily, type ModelFamily } from '../examples/families';
import { harvest } from '../harvest/harvest';
import { loadTokenizer, type CodeTokenizer } from '../models/tokenizer';
import type { CompletionEngine } from '../completion/engine/engine';
import { OrtThreadEngine } from '../completion/engine/ortThread';
import { readActiveRun, type ActiveRun } from '../pipeline/runStore';
import { findModelClasses, inferFramework, type ModelClassExample } from './repoStyle';
import type { Framework } from './spec';

export class NoAdapterError extends Error {
  constructor(workspace: string) {
    super(`No fine-tuned model for ${workspace} yet: run "RepoTune: Fine-tune on workspace" (or \`repotune fine-tune ${workspace}\`) first.`);
  }
}

/** The workspace's active run; checked first, so a workspace without one fails before any work. */
export function requireActiveRun(storageDir: string, workspace: string): ActiveRun {
  const active = readActiveRun(storageDir, workspace);
  if (!active) throw new NoAdapterError(workspace);
  return active;
}

export interface GenerationModel {
  readonly engine: CompletionEngine;
  readonly tokenizer: CodeTokenizer;
  readonly family: ModelFamily;
  readonly adapter: string;
  dispose(): Promise<void>;
}

/**
 * Loads the workspace's active run for one generation. A session of its own rather than the completion service's:
 * generation runs for seconds and must not hold up (or be aborted by) typing; the cost is a second copy of the
 * weights in memory while it runs, freed by dispose(). On a thread of its own (ortThread.ts), like the completion
 * engine, so its model runs do not hold the sidecar's event loop either.
 */
export async function openGenerationModel(active: ActiveRun): Promise<GenerationModel> {
  const tokenizer = loadTokenizer(active.modelDir);
  const family = detectFamily(tokenizer, path.basename(active.modelDir));
  const engine = await OrtThreadEngine.load(active.onnxDir);
  return { engine, tokenizer, family, adapter: active.runId, dispose: () => engine.dispose() };
}

export interface RepoStyle {
  /** The framework the repository imports most, if any. */
  readonly framework: Framework | undefined;
  readonly examples: ModelClassExample[];
}

/** Scans the harvested files (the same selection training saw: no vendored or generated code, secrets redacted). */
export async function readRepoStyle(workspace: string, framework?: Framework, signal?: AbortSignal): Promise<RepoStyle> {
  const { files } = await harvest(workspace, { signal });
  const detected = inferFramework(files);
  return { framework: detected, examples: findModelClasses(files, framework ?? detected ?? 'torch') };
}
