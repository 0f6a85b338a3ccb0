/** The `repotune harvest` flags → HarvestOptions, so the CLI (cliCommands/corpus.ts) only spreads the flags in and calls one function. */
import { HarvestError, type HarvestOptions, type SecretsMode } from './types';

export const HARVEST_CLI_OPTIONS = {
  'holdout-commits': { type: 'string' },
  'holdout-days': { type: 'string' },
  include: { type: 'string', multiple: true },
  exclude: { type: 'string', multiple: true },
  languages: { type: 'string' },
  secrets: { type: 'string' },
} as const;

export const HARVEST_CLI_USAGE =
  '[--holdout-commits N | --holdout-days D] [--include GLOB]… [--exclude GLOB]… [--languages ts,python] [--secrets redact|drop]';

interface HarvestFlags {
  'holdout-commits'?: string;
  'holdout-days'?: string;
  include?: string[];
  exclude?: string[];
  languages?: string;
  secrets?: string;
}

export function harvestOptionsFromFlags(flags: HarvestFlags): HarvestOptions {
  if (flags['holdout-commits'] !== undefined && flags['holdout-days'] !== undefined) {
    throw new HarvestError('Give --holdout-commits or --holdout-days, not both.');
  }
  if (flags.secrets !== undefined && flags.secrets !== 'redact' && flags.secrets !== 'drop') {
    throw new HarvestError(`--secrets must be 'redact' or 'drop' (got '${flags.secrets}').`);
  }
  return {
    holdoutCommits: count(flags['holdout-commits'], '--holdout-commits'),
    holdoutDays: count(flags['holdout-days'], '--holdout-days'),
    include: flags.include,
    exclude: flags.exclude,
    languages: flags.languages?.split(',').map((l) => l.trim()).filter(Boolean),
    secrets: flags.secrets as SecretsMode | undefined,
  };
}

function count(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new HarvestError(`${flag} must be a whole number ≥ 0 (got '${value}').`);
  return n;
}
