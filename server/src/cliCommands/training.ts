/**
 * The `repotune` commands that drive the Python worker: fine-tune (harvest → LoRA → ONNX → gate), the offline demo,
 * evaluate (base vs the active adapter on the holdout) and env (what the worker sees). Each one starts its own
 * worker and disposes of it in finally; exit 130 means cancelled (Ctrl-C).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runFineTune } from '../pipeline/fineTune';
import { readActiveRun } from '../pipeline/runStore';
import { runDemo } from '../pipeline/demo';
import { harvest } from '../harvest/harvest';
import { evaluateAdapter } from '../eval/evaluate';
import { formatReport } from '../eval/report';
import { ensureBaseOnnxLike } from '../models/modelStore';
import { abortOnSigint, printProgress, type CliContext } from './context';
import { UsageError, learningRate, positiveInt, servingQuantizationFlag } from './flags';

export async function fineTuneCommand({ values, target, storageDir, steps, makeTrainer }: CliContext): Promise<number> {
  if (!target) throw new UsageError('fine-tune needs <repo>');
  const trainer = makeTrainer();
  try {
    const outcome = await runFineTune(
      {
        workspace: path.resolve(target),
        modelDir: values.model && path.resolve(values.model),
        maxSteps: steps,
        learningRate: learningRate(values.lr),
        gate: !values['no-gate'],
        quantization: servingQuantizationFlag(values.quantize),
      },
      {
        trainer,
        storageDir,
        onProgress: printProgress,
        log: () => undefined,
        // Unattended: the summary is printed as soon as the harvest is done, and training goes on.
        onHarvested: (summary) => {
          if (!values.json) console.log(`\n${summary.text}\nmanifest:  ${summary.manifestPath}\n`);
          return true;
        },
      },
      abortOnSigint(),
    );
    if (values.json) console.log(JSON.stringify(outcome, null, 2));
    else {
      if (outcome.evaluation) console.log(`\n${outcome.evaluation.table}`);
      console.log(`\nharvest: ${outcome.harvestSummary}\nadapter: ${outcome.adapterDir}${outcome.onnxDir ? `\nonnx:    ${outcome.onnxDir}` : ''}`);
      console.log(`${outcome.activated ? 'active' : 'not active'}: ${outcome.activationReason}`);
    }
    return outcome.cancelled ? 130 : 0;
  } finally {
    await trainer.dispose();
  }
}

export async function demoCommand({ storageDir, steps, sourceRoot, makeTrainer }: CliContext): Promise<number> {
  const trainer = makeTrainer();
  try {
    return await runDemo({ trainer, storageDir, workspace: sourceRoot, steps, onProgress: printProgress }, abortOnSigint());
  } finally {
    await trainer.dispose();
  }
}

export async function evaluateCommand({ values, target, storageDir, makeTrainer }: CliContext): Promise<number> {
  if (!target) throw new UsageError('evaluate needs <repo>');
  const workspace = path.resolve(target);
  const active = readActiveRun(storageDir, workspace);
  if (!active) throw new UsageError(`No adapter for ${workspace} in ${storageDir}: run "repotune fine-tune ${workspace}" first.`);
  const trainer = makeTrainer();
  try {
    const holdout = (await harvest(workspace, {})).files.filter((f) => f.split === 'holdout');
    const report = await evaluateAdapter({
      modelDir: active.modelDir,
      baseOnnxDir: await ensureBaseOnnxLike(trainer, storageDir, active.modelDir, active.onnxDir),
      adapterOnnxDir: active.onnxDir,
      holdout,
      maxTasks: values.tasks !== undefined ? positiveInt(values.tasks, '--tasks') : undefined,
    });
    fs.writeFileSync(path.join(active.runDir, 'evaluation.json'), JSON.stringify(report, null, 2));
    console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
    return 0;
  } finally {
    await trainer.dispose();
  }
}

export async function envCommand({ makeTrainer }: CliContext): Promise<number> {
  const trainer = makeTrainer();
  try {
    console.log(JSON.stringify(await trainer.request('env'), null, 2));
    return 0;
  } finally {
    await trainer.dispose();
  }
}
