/**
 * RepoTune's own secret rules. A model trained on a secret can complete it for anyone who has the adapter, so
 * every finding is replaced by `<REDACTED:rule-id>` (or its file dropped) before text leaves the harvest stage;
 * only counts per rule are kept. These rules run beside secretlint's maintained preset (secretlint.ts): they cover
 * kinds the preset leaves out (AWS key ids, GitLab, Stripe, Google API keys, JWTs, passwords in URLs, secret
 * assignments) and add an entropy check for unknown token shapes.
 */

/** Minimum Shannon entropy (bits per character) of a value assigned to a secret-looking name. */
export const GENERIC_SECRET_MIN_ENTROPY = 3.5;
/** Values shorter than this assigned to secret-looking names are treated as placeholders, not secrets. */
export const GENERIC_SECRET_MIN_LENGTH = 12;
/** Unquoted config values are shorter and plainer than keys (passwords): a lower bar than GENERIC_SECRET_MIN_ENTROPY. */
export const CONFIG_SECRET_MIN_ENTROPY = 3.0;
/** A quoted token-like string at least this long is checked for entropy even without a secret-looking name. */
export const HIGH_ENTROPY_MIN_LENGTH = 32;
/** Bits per character above which such a string counts as a secret (random base64 ≈ 5, identifiers and hex < 4). */
export const HIGH_ENTROPY_MIN_BITS = 4.5;

/** A secret's location in a text; `rule` says what found it. */
export interface SecretFinding {
  readonly rule: string;
  readonly start: number;
  readonly end: number;
}

interface SecretRule {
  readonly id: string;
  /** Must carry the `d` flag: the secret's range comes from the match indices. */
  readonly pattern: RegExp;
  /** Index of the capture group holding the secret; 0 = the whole match. */
  readonly group: number;
  /** Extra check on the captured secret (entropy, placeholders). */
  readonly accept?: (secret: string) => boolean;
  /** The rule runs only on texts containing one of these (lower-cased text): a cheap skip for most files. */
  readonly hints?: readonly string[];
}

export function placeholder(ruleId: string): string {
  return `<REDACTED:${ruleId}>`;
}

/** Specific rules first: on overlap the earlier rule names the finding (see mergeFindings). */
export const SPECIFIC_RULES: readonly SecretRule[] = [
  {
    id: 'private-key',
    pattern: /-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY( BLOCK)?-----[\s\S]*?-----END \1PRIVATE KEY( BLOCK)?-----/dg,
    hints: ['private key'],
    group: 0,
  },
  { id: 'aws-access-key-id', pattern: /\b((?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|A3T[A-Z0-9])[0-9A-Z]{16})\b/dg, group: 1 },
  {
    id: 'aws-secret-access-key',
    pattern: /aws_?secret_?(?:access_?)?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])/dgi,
    hints: ['secret'],
    group: 1,
  },
  { id: 'github-token', pattern: /\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255})\b/dg, group: 1 },
  { id: 'github-fine-grained-token', pattern: /\b(github_pat_[A-Za-z0-9_]{22,255})\b/dg, group: 1 },
  { id: 'gitlab-token', pattern: /\b(gl(?:pat|dt|rt|ptt|cbt|oas)-[A-Za-z0-9_-]{20,})\b/dg, group: 1 },
  { id: 'slack-token', pattern: /\b(xox[baprse]-[A-Za-z0-9-]{10,})\b/dg, group: 1 },
  { id: 'slack-webhook', pattern: /(https:\/\/hooks\.slack\.com\/services\/[A-Za-z0-9_/]{20,})/dg, group: 1, hints: ['hooks.slack.com'] },
  { id: 'stripe-key', pattern: /\b((?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,})\b/dg, group: 1 },
  { id: 'openai-style-key', pattern: /\b(sk-(?:proj-|ant-(?:api\d\d-|admin\d\d-)?|svcacct-)?[A-Za-z0-9_-]{20,})\b/dg, group: 1 },
  { id: 'huggingface-token', pattern: /\b(hf_[A-Za-z0-9]{34,})\b/dg, group: 1 },
  { id: 'azure-storage-key', pattern: /AccountKey=([A-Za-z0-9+/]{40,}={0,2})/dg, group: 1, hints: ['accountkey='] },
  { id: 'google-api-key', pattern: /\b(AIza[0-9A-Za-z_-]{35})\b/dg, group: 1 },
  { id: 'jwt', pattern: /\b(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})/dg, group: 1 },
  {
    id: 'url-password',
    // scheme://user:password@host — the password only, so the URL shape stays for the model to learn. Hosts under
    // example.com/.org/.net are documentation (RFC 2606), not credentials.
    pattern: /\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}:\/\/[^\s:/@"'`]{0,100}:([^\s@/"'`]{3,200})@(?!(?:[\w-]+\.)*example\.(?:com|org|net)\b)[^\s/"'`]/dg,
    hints: ['://'],
    group: 1,
    accept: (s) => !isPlaceholder(s),
  },
];

/** Rules that guess from context or entropy: they name a finding only when no specific rule (or secretlint) did. */
export const HEURISTIC_RULES: readonly SecretRule[] = [
  {
    id: 'generic-secret-assignment',
    pattern:
      /(?:password|passwd|pwd|secret|api[_-]?key|apikey|access[_-]?key|auth[_-]?token|access[_-]?token|token|client[_-]?secret|private[_-]?key)["']?\s*(?::=|=>|[:=])\s*["'`]([^"'`\s]{12,200})["'`]/dgi,
    hints: ['pass', 'pwd', 'secret', 'key', 'token'],
    group: 1,
    accept: (s) => s.length >= GENERIC_SECRET_MIN_LENGTH && !isPlaceholder(s) && shannonEntropy(s) >= GENERIC_SECRET_MIN_ENTROPY,
  },
  {
    id: 'config-secret',
    // `KEY=value` (.env, ini, properties) and `key: value` (YAML) lines whose key names a secret, value unquoted
    // (quoted values are the rule above). Code such as `apiKey: process.env.API_KEY,` is not a value.
    pattern:
      /^[ \t-]*(?:export\s+)?[\w.-]*(?:password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?)[\w.-]*[ \t]*[:=][ \t]*([^\s"'`#][^\s#]{7,200})[ \t]*$/dgim,
    hints: ['pass', 'secret', 'token', 'key', 'credential'],
    group: 1,
    accept: (s) => !isPlaceholder(s) && !isCodeExpression(s) && /\d/.test(s) && shannonEntropy(s) >= CONFIG_SECRET_MIN_ENTROPY,
  },
  {
    id: 'high-entropy-string',
    pattern: new RegExp(`["'\`]([A-Za-z0-9+/_=-]{${HIGH_ENTROPY_MIN_LENGTH},512})["'\`]`, 'dg'),
    group: 1,
    accept: looksRandom,
  },
];

/** Values that are obviously not secrets: template variables, env lookups, redactions, x-ed out examples. */
function isPlaceholder(s: string): boolean {
  return /^[$%{<]|^\*+$|^x+$|^(?:pass(?:word)?|passwd|pwd|secret|token|key)$|REDACTED|changeme|example|your[_-]?|placeholder|dummy|\.\.\./i.test(s);
}

/** Identifiers, property paths and calls: what a secret-named key holds in code rather than in config. */
function isCodeExpression(s: string): boolean {
  return /[()[\]{};,]$|\(|^[A-Za-z_$][\w$]*(?:\.[\w$]+)+[,;]?$/.test(s);
}

/** Mixed-case letters and digits with near-random entropy: a key, not a word, a path or a hex digest. */
function looksRandom(s: string): boolean {
  if (!/[a-z]/.test(s) || !/[A-Z]/.test(s) || !/[0-9]/.test(s)) return false;
  if (/^[a-z]+(?:[_-][a-z0-9]+)+$/i.test(s)) return false; // snake/kebab identifiers
  return shannonEntropy(s) >= HIGH_ENTROPY_MIN_BITS;
}

export function shannonEntropy(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

export function findWithRules(text: string, rules: readonly SecretRule[]): SecretFinding[] {
  const found: SecretFinding[] = [];
  let lower: string | undefined;
  for (const rule of rules) {
    if (rule.hints && !rule.hints.some((h) => (lower ??= text.toLowerCase()).includes(h))) continue;
    rule.pattern.lastIndex = 0;
    for (const m of text.matchAll(rule.pattern)) {
      const secret = m[rule.group];
      const at = m.indices?.[rule.group];
      if (secret === undefined || at === undefined || (rule.accept && !rule.accept(secret))) continue;
      found.push({ rule: rule.id, start: at[0], end: at[1] });
    }
  }
  return found;
}

/**
 * Overlapping findings become one range, named by the first finding in `ordered` (callers pass the most specific
 * rules first), so one secret counts once.
 */
export function mergeFindings(ordered: readonly SecretFinding[]): SecretFinding[] {
  const rank = new Map(ordered.map((f, i) => [f, i]));
  const byStart = [...ordered].sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: { rule: string; start: number; end: number; rank: number }[] = [];
  for (const f of byStart) {
    const last = merged[merged.length - 1];
    const r = rank.get(f) ?? 0;
    if (last && f.start < last.end) {
      last.end = Math.max(last.end, f.end);
      if (r < last.rank) Object.assign(last, { rule: f.rule, rank: r });
    } else {
      merged.push({ rule: f.rule, start: f.start, end: f.end, rank: r });
    }
  }
  return merged.map(({ rule, start, end }) => ({ rule, start, end }));
}

export interface Redaction {
  readonly text: string;
  /** Findings per rule id (only rules that matched). */
  readonly counts: Record<string, number>;
}

/** Replaces merged findings by their placeholders. */
export function applyRedactions(text: string, merged: readonly SecretFinding[]): Redaction {
  const counts: Record<string, number> = {};
  let out = '';
  let at = 0;
  for (const f of merged) {
    out += text.slice(at, f.start) + placeholder(f.rule);
    at = f.end;
    counts[f.rule] = (counts[f.rule] ?? 0) + 1;
  }
  return { text: out + text.slice(at), counts };
}

/** RepoTune's own rules only (synchronous); harvest uses scanSecrets, which adds secretlint. */
export function redactSecrets(text: string): Redaction {
  return applyRedactions(text, mergeFindings([...findWithRules(text, SPECIFIC_RULES), ...findWithRules(text, HEURISTIC_RULES)]));
}
