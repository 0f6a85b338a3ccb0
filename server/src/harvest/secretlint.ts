/**
 * secretlint's recommended preset (a maintained rule set: AWS, GCP, GitHub, Slack, npm, OpenAI, private keys,
 * basic auth, SendGrid, Shopify, Linear, 1Password …) run over every harvested text, beside RepoTune's own rules.
 * Only rule ids and ranges leave this module; secretlint is asked to mask secrets in its messages, which we drop.
 */
import { lintSource } from '@secretlint/core';
import { creator as recommendedPreset } from '@secretlint/secretlint-rule-preset-recommend';
import { secretLintProfiler } from '@secretlint/profiler';
import type { SecretLintCoreConfig } from '@secretlint/types';
import { findWithRules, HEURISTIC_RULES, mergeFindings, SPECIFIC_RULES, type SecretFinding } from './secrets';

const PRESET_ID = '@secretlint/secretlint-rule-preset-recommend';
/** secretlint rule ids are long package names; the manifest shows `secretlint/<rule>`. */
const RULE_PREFIX = '@secretlint/secretlint-rule-';

const CONFIG: SecretLintCoreConfig = { rules: [{ id: PRESET_ID, rule: recommendedPreset }] };

// secretlint's profiler is always on: every lint adds performance marks that it keeps forever and searches
// linearly, so time per file grows with files linted (measured: 2,000 files took 16 s, 90% in the profiler) and
// memory grows without bound. RepoTune never reads the profile, so marking is switched off.
secretLintProfiler.mark = () => undefined;

export function secretlintRuleId(ruleId: string): string {
  return `secretlint/${ruleId.startsWith(RULE_PREFIX) ? ruleId.slice(RULE_PREFIX.length) : ruleId}`;
}

/** Findings of secretlint's recommended preset in `text`. */
export async function findWithSecretlint(text: string, relPath: string): Promise<SecretFinding[]> {
  const result = await lintSource({
    // noPhysicFilePath: rules must judge the text we hand them, never re-read (possibly changed) files.
    source: { filePath: relPath, content: text, contentType: 'text' },
    options: { config: CONFIG, maskSecrets: true, noPhysicFilePath: true },
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
  const ordered = [...findWithRules(text, SPECIFIC_RULES), ...(await findWithSecretlint(text, relPath)), ...findWithRules(text, HEURISTIC_RULES)];
  return ordered.length === 0 ? [] : mergeFindings(ordered);
}
