/**
 * The `repotune` commands that show what a fine-tune would train on, without training: harvest (manifest + corpus
 * on disk) and examples (a few training examples rendered as the model sees them, spans marked).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatSummary, harvest, writeCorpus, writeManifest } from '../harvest/harvest';
import { harvestOptionsFromFlags } from '../harvest/cliOptions';
import { DEFAULT_SEED, DEFAULT_SEQ_LEN } from '../pipeline/fineTune';
import { ensureDemoModel } from '../models/modelStore';
import { DEFAULT_SHOWN_EXAMPLES, runExamplesCommand } from '../examples/render';
import type { CliContext } from './context';
import { UsageError, positiveInt } from './flags';

export async function harvestCommand({ values, target }: CliContext): Promise<number> {
  if (!target || !values.out) throw new UsageError('harvest needs <repo> and --out <dir>');
  const out = path.resolve(values.out);
  const store = path.join(out, '.store'); // texts wait on disk, not in memory (flat in repository size)
  try {
    const result = await harvest(path.resolve(target), { ...harvestOptionsFromFlags(values), corpusDir: store });
    const manifestFile = writeManifest(out, result);
    const corpus = writeCorpus(out, result);
    for (const n of result.notices) console.error(`note: ${n}`);
    console.log(`${formatSummary(result.manifest)}
manifest:  ${manifestFile}
corpus:    ${corpus}`);
  } finally {
    fs.rmSync(store, { recursive: true, force: true });
  }
  return 0;
}

export async function examplesCommand({ values, target, storageDir, makeTrainer }: CliContext): Promise<number> {
  if (!target) throw new UsageError('examples needs <repo>');
  const trainer = values.model ? undefined : makeTrainer(); // only to generate the demo model's tokenizer once
  try {
    const modelDir = values.model ? path.resolve(values.model) : await ensureDemoModel(trainer!, storageDir);
    const n = values.n !== undefined ? positiveInt(values.n, '--n') : DEFAULT_SHOWN_EXAMPLES;
    const seed = values.seed !== undefined ? Number(values.seed) : DEFAULT_SEED;
    if (!Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, got "${values.seed}"`);
    console.log(await runExamplesCommand(path.resolve(target), modelDir, { n, seed, seqLen: DEFAULT_SEQ_LEN, color: process.stdout.isTTY === true }));
    return 0;
  } finally {
    await trainer?.dispose();
  }
}
