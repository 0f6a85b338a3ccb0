/**
 * The `repotune` command line's flags: the one parseArgs table every command reads from, and the checks that turn a
 * flag's text into a number. A bad flag is a UsageError, which the CLI prints as `repotune: …` and exits 2 on.
 */
import { parseArgs } from 'node:util';
import { HARVEST_CLI_OPTIONS } from '../harvest/cliOptions';
import { isServingQuantization, SERVING_QUANTIZATIONS, type ServingQuantization } from '../protocol';

/** A mistake in how the CLI was called (missing argument, bad flag value): exit status 2, not 1. */
export class UsageError extends Error {}

const CLI_OPTIONS = {
  steps: { type: 'string' },
  lr: { type: 'string' },
  storage: { type: 'string' },
  model: { type: 'string' },
  out: { type: 'string' },
  line: { type: 'string' },
  col: { type: 'string' },
  workspace: { type: 'string' },
  python: { type: 'string' },
  json: { type: 'boolean' },
  n: { type: 'string' },
  seed: { type: 'string' },
  tasks: { type: 'string' },
  'no-gate': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  task: { type: 'string' },
  inputs: { type: 'string' },
  outputs: { type: 'string' },
  loss: { type: 'string' },
  framework: { type: 'string' },
  run: { type: 'boolean' },
  target: { type: 'string' },
  format: { type: 'string' },
  quantize: { type: 'string' },
  'run-id': { type: 'string' },
  force: { type: 'boolean' },
  ...HARVEST_CLI_OPTIONS,
} as const;

/** argv (without node and the script) → flags and positionals; unknown flags throw (parseArgs is strict). */
export function parseCliArgs(argv: string[]) {
  return parseArgs({ args: argv, allowPositionals: true, options: CLI_OPTIONS });
}

export type CliFlags = ReturnType<typeof parseCliArgs>['values'];

export function positiveInt(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${name} must be a positive integer, got "${value}"`);
  return n;
}

/** --lr: a learning rate in (0, 1) as the trainer accepts it (args.py), or undefined for the default. */
export function learningRate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const x = Number(value);
  if (!(x > 0 && x < 1)) throw new UsageError(`--lr must be a number in (0, 1), got "${value}"`);
  return x;
}

/** fine-tune --quantize: the weights the adapted model is evaluated and served with (default auto). */
export function servingQuantizationFlag(value: string | undefined): ServingQuantization | undefined {
  if (value === undefined) return undefined;
  if (!isServingQuantization(value)) throw new UsageError(`--quantize for fine-tune must be one of ${SERVING_QUANTIZATIONS.join(', ')}, got "${value}"`);
  return value;
}
