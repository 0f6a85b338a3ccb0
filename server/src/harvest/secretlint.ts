/**
 * secretlint's recommended preset (a maintained rule set: AWS, GCP, GitHub, Slack, npm, OpenAI, private keys,
 * basic auth, SendGrid, Shopify, Linear, 1Password …) run over every harvested text, beside RepoTune's own rules.
 * Only rule ids and ranges leave this module; secretlint is asked to mask secrets in its messages, which we drop.
 */
import { lintSource } from '@secretlint/core';
import { creator as recommendedPreset, rules as recommendedRules } from '@secretlint/secretlint-rule-preset-recommend';
import { secretLintProfiler } from '@secretlint/profiler';
import type { SecretLintCoreConfig } from '@secretlint/types';
import { KeywordScanner, type KeywordHits } from './keywordScan';
import { findWithRules, HEURISTIC_RULES, mergeFindings, RULE_KEYWORDS, SPECIFIC_RULES, type SecretFinding } from './secrets';

const PRESET_ID = '@secretlint/secretlint-rule-preset-recommend';
/** secretlint rule ids are long package names; the manifest shows `secretlint/<rule>`. */
const RULE_PREFIX = '@secretlint/secretlint-rule-';

const CONFIG: SecretLintCoreConfig = { rules: [{ id: PRESET_ID, rule: recommendedPreset }] };

// secretlint's profiler is always on: every lint adds performance marks that it keeps forever and searches
// linearly, so time per file grows with files linted (measured: 2,000 files took 16 s, 90% in the profiler) and
// memory grows without bound. RepoTune never reads the profile, so marking is switched off.
secretLintProfiler.mark = () => undefined;

/**
 * Per rule of the preset (id without RULE_PREFIX): lower-case words of which its patterns need at least one, read
 * from the rules' sources (@secretlint/secretlint-rule-preset-recommend 10.2.2). secretlint runs on a text only when
 * it holds one of them: linting every file cost ~14 ms per MB, most of the harvest's time, and almost no file holds
 * any. A preset update that adds a rule fails test/unit/harvestSecretGates.test.ts until the rule is listed here.
 */
export const SECRETLINT_KEYWORDS: Readonly<Record<string, readonly string[]>> = {
  aws: ['secret'], // the secret-access-key pattern; the id rules are off by default (enableIDScanRule)
  gcp: ['private_key_id'], // service-account JSON; its .p12 check is handled by extension below
  npm: ['x-oauth-basic', '_authtoken=', 'npm_'],
  slack: ['xox', 'xapp-', 'hooks.slack.com'],
  basicauth: ['://'],
  openai: ['t3blbkfj'],
  linear: ['lin_api_'],
  privatekey: ['private key'],
  sendgrid: ['sg.'],
  shopify: ['shppa_', 'shpca_', 'shpat_', 'shpss_'],
  github: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_'],
  '1password': ['ops_ey'],
  'filter-comments': [], // only silences findings of other rules (secretlint-disable comments); never reports
};
/** Files the preset judges by their extension rather than their text. */
const ALWAYS_LINTED = /\.p12$/i;
const PRESET_KEYWORDS = [...new Set(Object.values(SECRETLINT_KEYWORDS).flat())];
/** One pass finds the keywords of RepoTune's rules and of the preset's (each pass costs about one read of the text). */
const SECRET_SCANNER = new KeywordScanner([...new Set([...RULE_KEYWORDS, ...PRESET_KEYWORDS])]);

/** The preset's rule ids without RULE_PREFIX, for the drift test. */
export function presetRuleIds(): string[] {
  return recommendedRules.map((r) => r.meta.id.slice(RULE_PREFIX.length));
}

/** Whether secretlint's preset judges this file by its path, whatever its text holds. */
export function secretlintChecksPath(relPath: string): boolean {
  return ALWAYS_LINTED.test(relPath);
}

/** The keywords of RepoTune's rules and of secretlint's preset found in `text` (one pass for both). */
export function secretKeywordHits(text: string): KeywordHits {
  return SECRET_SCANNER.scan(text);
}

/**
 * The preset's rules as secretlint configurations, by the rules they hold: a text is linted only by the rules whose
 * keywords it holds (linting 34 real files with the whole preset took 64 ms, mostly in rules that had nothing to
 * find), so few distinct configurations are ever built.
 */
const PRESET_SUBSETS = new Map<string, SecretLintCoreConfig>();

/**
 * The configuration to lint a text with: the preset's rules whose keywords `hits` holds (SECRETLINT_KEYWORDS), with
 * the rules that report nothing themselves (filter-comments: its `secretlint-disable` comments silence the others);
 * the whole preset for a file it judges by its path; undefined when no rule could report anything.
 */
function presetConfigFor(relPath: string, hits: KeywordHits): SecretLintCoreConfig | undefined {
  if (secretlintChecksPath(relPath)) return CONFIG;
  const keywordsOf = (rule: (typeof recommendedRules)[number]) => SECRETLINT_KEYWORDS[rule.meta.id.slice(RULE_PREFIX.length)];
  const reporting = recommendedRules.filter((r) => {
    const words = keywordsOf(r);
    // A rule missing from the list runs on every text (the drift test asks for it to be listed).
    return words === undefined || words.some((w) => hits.has(w));
  });
  if (reporting.length === 0) return undefined;
  const chosen = recommendedRules.filter((r) => reporting.includes(r) || keywordsOf(r)?.length === 0);
  const key = chosen.map((r) => r.meta.id).join(' ');
  let config = PRESET_SUBSETS.get(key);
  if (!config) {
    config = { rules: chosen.map((rule) => ({ id: rule.meta.id, rule })) };
    PRESET_SUBSETS.set(key, config);
  }
  return config;
}

export function secretlintRuleId(ruleId: string): string {
  return `secretlint/${ruleId.startsWith(RULE_PREFIX) ? ruleId.slice(RULE_PREFIX.length) : ruleId}`;
}

/**
 * Findings of secretlint's recommended preset in `text`: of every rule, or with `hits` (secretKeywordHits of the
 * text) of the rules that could report something there — the same findings (test/unit/harvestSecretGates.test.ts).
 */
export async function findWithSecretlint(text: string, relPath: string, hits?: KeywordHits): Promise<SecretFinding[]> {
  const config = hits ? presetConfigFor(relPath, hits) : CONFIG;
  if (!config) return [];
  const result = await lintSource({
    // noPhysicFilePath: rules must judge the text we hand them, never re-read (possibly changed) files.
    source: { filePath: relPath, content: text, contentType: 'text' },
    options: { config, maskSecrets: true, noPhysicFilePath: true },
  });
  return result.messages
    .map((m) => ({ rule: secretlintRuleId(m.ruleId), start: m.range[0], end: m.range[1] }))
    .filter((f) => !isKnownFalsePositive(f, text));
}

/**
 * secretlint's npm rule allows `_` after `npm_`, so identifiers such as TypeScript's `npm_i_save_dev_types_…`
 * message keys match (13 of 27 false positives in bench/harvest-secrets-fp); real npm tokens are base62.
 */
function isKnownFalsePositive(f: SecretFinding, text: string): boolean {
  return f.rule === 'secretlint/npm' && !/^npm_[A-Za-z0-9]{36}$/.test(text.slice(f.start, f.end));
}

/**
 * Every secret found in `text` by RepoTune's specific rules, secretlint's preset and the heuristic rules, merged
 * so that overlapping findings count once (named by the most specific rule).
 */
export async function scanSecrets(text: string, relPath: string): Promise<SecretFinding[]> {
  const hits = SECRET_SCANNER.scan(text);
  const preset = await findWithSecretlint(text, relPath, hits);
  const ordered = [...findWithRules(text, SPECIFIC_RULES, hits), ...preset, ...findWithRules(text, HEURISTIC_RULES, hits)];
  return ordered.length === 0 ? [] : mergeFindings(ordered);
}
