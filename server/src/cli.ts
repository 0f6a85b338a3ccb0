/**
 * `repotune`: the same core as the VS Code extension, headless (GPU servers, CI, the offline demo).
 *
 *   repotune demo [--steps N] [--storage DIR]            fine-tune on this repository with the DEMO model, show
 *                                                        a completion before and after, and where the adapter is
 *   repotune fine-tune <repo> [--model DIR] [--steps N] [--lr X] [--no-gate] [--quantize auto|none|int8|int4] [--storage DIR] [--json]
 *   repotune harvest <repo> --out <dir>                  write the manifest and harvested corpus
 *   repotune complete <file> --line N --col N [--workspace DIR] [--storage DIR]
 *   repotune generate --workspace DIR --task T --inputs "x: float32[B, 16]" --outputs "logits: float32[B, 4]"
 *                     --loss cross_entropy [--framework torch] [--run] [--target path.py] [--storage DIR]
 *                                                        write model code with the adapted model, check it (--run:
 *                                                        also run its smoke test, sandboxed), print code + results
 *   repotune evaluate <repo> [--tasks N] [--storage DIR] [--json]
 *                                                        base vs adapter on the holdout, with the gate's verdict
 *   repotune examples <repo> [--n 5] [--seed S] [--model DIR]
 *                                                        a few training examples as the model sees them, with
 *                                                        ⟦context⟧ ⟦prefix⟧ ⟦MIDDLE⟧ ⟦/suffix⟧ marked
 *   repotune export-adapter <repo> --format peft|merged|onnx|gguf --out DIR [--quantize int8|int4] [--run-id ID] [--force]
 *                                                        write a run's adapter (default: the active one) elsewhere
 *   repotune env                                         what the Python worker sees (torch, CUDA, GPU memory)
 *
 * This file parses the flags and dispatches; the commands themselves are in cliCommands/ (training.ts: fine-tune,
 * demo, evaluate, env; corpus.ts: harvest, examples; adapter.ts: complete, generate, export-adapter).
 */
import * as path from 'node:path';
import { TrainerError } from './training/trainerProcess';
import { HARVEST_CLI_USAGE } from './harvest/cliOptions';
import { UsageError, parseCliArgs } from './cliCommands/flags';
import { createCliContext } from './cliCommands/context';
import { demoCommand, envCommand, evaluateCommand, fineTuneCommand } from './cliCommands/training';
import { examplesCommand, harvestCommand } from './cliCommands/corpus';
import { completeCommand, exportAdapterCommand, generateCommand } from './cliCommands/adapter';
import { sizeThreadPoolForHarvest } from './harvest/pool';

export { DEFAULT_STORAGE, printProgress } from './cliCommands/context';

/** The package root above the bundle (dist/cli.js → .): the demo's workspace, and where server/trainer is. */
const SOURCE_ROOT = path.resolve(__dirname, '..');

const USAGE = `usage:
  repotune demo [--steps N] [--storage DIR]
  repotune fine-tune <repo> [--model DIR] [--steps N] [--lr X] [--no-gate] [--quantize auto|none|int8|int4] [--storage DIR] [--json]
  repotune harvest <repo> --out <dir> ${HARVEST_CLI_USAGE}
  repotune complete <file> --line N --col N [--workspace DIR] [--storage DIR]
  repotune generate --workspace DIR --task T --inputs SPEC --outputs SPEC --loss NAME [--framework torch] [--run] [--target FILE] [--storage DIR] [--json]
  repotune examples <repo> [--n 5] [--seed S] [--model DIR]   print rendered training examples, spans marked
  repotune export-adapter <repo> --format peft|merged|onnx|gguf --out DIR [--quantize int8|int4] [--run-id ID] [--force] [--storage DIR]
  repotune env
--steps: optimizer steps; default: about 4 passes over the training examples (100–2,000), 200 for the demo model`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCliArgs(argv);
  const [command, target] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  // Built (and --steps checked) before the command is known, so a bad --steps fails every command alike.
  const ctx = createCliContext(values, target, SOURCE_ROOT);
  switch (command) {
    case 'harvest':
      return harvestCommand(ctx);
    case 'fine-tune':
      return fineTuneCommand(ctx);
    case 'export-adapter':
      return exportAdapterCommand(ctx);
    case 'complete':
      return completeCommand(ctx);
    case 'demo':
      return demoCommand(ctx);
    case 'generate':
      return generateCommand(ctx);
    case 'evaluate':
      return evaluateCommand(ctx);
    case 'examples':
      return examplesCommand(ctx);
    case 'env':
      return envCommand(ctx);
    default:
      throw new UsageError(`unknown command "${command}"\n${USAGE}`);
  }
}

sizeThreadPoolForHarvest();
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof UsageError) console.error(`repotune: ${err.message}`);
    else if (err instanceof TrainerError) console.error(`repotune: ${err.message}`);
    else console.error(`repotune: ${(err as Error).message ?? err}`);
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
