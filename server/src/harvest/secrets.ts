/**
 * RepoTune's own secret rules. A model trained on a secret can complete it for anyone who has the adapter, so
 * every finding is replaced by `<REDACTED:rule-id>` (or its file dropped) before text leaves the harvest stage;
 * only counts per rule are kept. These rules run beside secretlint's maintained preset (secretlint.ts): they cover
 * kinds the preset leaves out (AWS key ids, GitLab, Stripe, Google API keys, JWTs, passwords in URLs, secret
 * assignments) and add an entropy check for unknown token shapes.
 */

import { KeywordScanner, type KeywordHits } from './keywordScan';

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

export interface SecretRule {
  readonly id: string;
  /** Must carry the `d` flag: the secret's range comes from the match indices. */
  readonly pattern: RegExp;
  /** Index of the capture group holding the secret; 0 = the whole match. */
  readonly group: number;
  /** Extra check on the captured secret (entropy, placeholders). */
  readonly accept?: (secret: string) => boolean;
  /**
   * Lower-case words of which the pattern needs at least one (matched case-insensitively): without any, the rule is
   * skipped. A word list must be complete — a pattern that can match without one of them would be skipped on texts
   * it should flag (test/unit/harvestSecretGates.test.ts checks this against the plain patterns). Omitted: always run.
   */
  readonly keywords?: readonly string[];
  /**
   * Where the pattern runs. 'text' (default): over the whole text. 'after-keyword': a sticky pattern tried at the
   * end of each keyword occurrence (the keyword is the start of the secret's name). 'keyword-line': over each line
   * that holds a keyword (with any `export` lines just above it), for patterns anchored to whole lines.
   * 'before-keyword': a sticky pattern tried only where a match can start, `reach` before a keyword's end.
   */
  readonly scope?: 'text' | 'after-keyword' | 'keyword-line' | 'before-keyword';
  /**
   * For 'before-keyword': [nearest, farthest], how many characters before a keyword occurrence's end every match
   * of the pattern starts (`scheme://` with a 2–21 character scheme starts 5–24 characters before the end of
   * `://`). Must hold for every match: test/unit/harvestSecretGates.test.ts compares with the whole-text pattern.
   */
  readonly reach?: readonly [number, number];
}

export function placeholder(ruleId: string): string {
  return `<REDACTED:${ruleId}>`;
}

/** Specific rules first: on overlap the earlier rule names the finding (see mergeFindings). */
export const SPECIFIC_RULES: readonly SecretRule[] = [
  {
    id: 'private-key',
    pattern: /-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY( BLOCK)?-----[\s\S]*?-----END \1PRIVATE KEY( BLOCK)?-----/dg,
    keywords: ['private key'],
    group: 0,
  },
  {
    id: 'aws-access-key-id',
    pattern: /\b((?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|A3T[A-Z0-9])[0-9A-Z]{16})\b/dg,
    keywords: ['akia', 'asia', 'abia', 'acca', 'agpa', 'aida', 'aroa', 'a3t'],
    group: 1,
  },
  {
    id: 'aws-secret-access-key',
    pattern: /aws_?secret_?(?:access_?)?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])/dgi,
    keywords: ['secret'],
    group: 1,
  },
  { id: 'github-token', pattern: /\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255})\b/dg, keywords: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'], group: 1 },
  { id: 'github-fine-grained-token', pattern: /\b(github_pat_[A-Za-z0-9_]{22,255})\b/dg, keywords: ['github_pat_'], group: 1 },
  {
    id: 'gitlab-token',
    pattern: /\b(gl(?:pat|dt|rt|ptt|cbt|oas)-[A-Za-z0-9_-]{20,})\b/dg,
    keywords: ['glpat-', 'gldt-', 'glrt-', 'glptt-', 'glcbt-', 'gloas-'],
    group: 1,
  },
  { id: 'slack-token', pattern: /\b(xox[baprse]-[A-Za-z0-9-]{10,})\b/dg, keywords: ['xox'], group: 1 },
  { id: 'slack-webhook', pattern: /(https:\/\/hooks\.slack\.com\/services\/[A-Za-z0-9_/]{20,})/dg, group: 1, keywords: ['hooks.slack.com'] },
  { id: 'stripe-key', pattern: /\b((?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,})\b/dg, keywords: ['_live_', '_test_'], group: 1 },
  { id: 'openai-style-key', pattern: /\b(sk-(?:proj-|ant-(?:api\d\d-|admin\d\d-)?|svcacct-)?[A-Za-z0-9_-]{20,})\b/dg, keywords: ['sk-'], group: 1 },
  { id: 'huggingface-token', pattern: /\b(hf_[A-Za-z0-9]{34,})\b/dg, keywords: ['hf_'], group: 1 },
  { id: 'azure-storage-key', pattern: /AccountKey=([A-Za-z0-9+/]{40,}={0,2})/dg, group: 1, keywords: ['accountkey='] },
  { id: 'google-api-key', pattern: /\b(AIza[0-9A-Za-z_-]{35})\b/dg, keywords: ['aiza'], group: 1 },
  { id: 'jwt', pattern: /\b(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})/dg, keywords: ['eyj'], group: 1 },
  {
    id: 'url-password',
    // scheme://user:password@host — the password only, so the URL shape stays for the model to learn. Hosts under
    // example.com/.org/.net are documentation (RFC 2606), not credentials.
    pattern: /\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}:\/\/[^\s:/@"'`]{0,100}:([^\s@/"'`]{3,200})@(?!(?:[\w-]+\.)*example\.(?:com|org|net)\b)[^\s/"'`]/dy,
    keywords: ['://'],
    // Over whole texts this pattern tried up to 21 scheme characters at every letter: 12% of the JavaScript scan's
    // time on real Python sources, where `http://` is everywhere.
    scope: 'before-keyword',
    reach: [5, 24],
    group: 1,
    accept: (s) => !isPlaceholder(s),
  },
];

/** Rules that guess from context or entropy: they name a finding only when no specific rule (or secretlint) did. */
/** Names whose assigned value is a secret (the alternatives of the name part of the two assignment rules). */
const SECRET_NAME_WORDS = ['password', 'passwd', 'secret', 'token', ...variants('api', 'key'), 'apikey', ...variants('access', 'key'), ...variants('private', 'key')];
/** `a_b`, `a-b` and `ab`: the spellings `a[_-]?b` stands for. */
function variants(a: string, b: string): string[] {
  return [`${a}_${b}`, `${a}-${b}`, `${a}${b}`];
}

/** Rules that guess from context or entropy: they name a finding only when no specific rule (or secretlint) did. */
export const HEURISTIC_RULES: readonly SecretRule[] = [
  {
    // `<name>["']? <op> "<value>"` — tried right after each secret-looking name; the name may end a longer
    // identifier (`dbPassword = "…"`).
    id: 'generic-secret-assignment',
    pattern: /["']?\s*(?::=|=>|[:=])\s*["'`]([^"'`\s]{12,200})["'`]/dy,
    keywords: [...SECRET_NAME_WORDS, 'pwd', ...variants('auth', 'token'), ...variants('access', 'token'), ...variants('client', 'secret')],
    scope: 'after-keyword',
    group: 1,
    accept: (s) => s.length >= GENERIC_SECRET_MIN_LENGTH && !isPlaceholder(s) && shannonEntropy(s) >= GENERIC_SECRET_MIN_ENTROPY,
  },
  {
    id: 'config-secret',
    // `KEY=value` (.env, ini, properties) and `key: value` (YAML) lines whose key names a secret, value unquoted
    // (quoted values are the rule above). Code such as `apiKey: process.env.API_KEY,` is not a value.
    pattern:
      /^[ \t-]*(?:export\s+)?[\w.-]*(?:password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?)[\w.-]*[ \t]*[:=][ \t]*([^\s"'`#][^\s#]{7,200})[ \t]*$/dgim,
    keywords: [...SECRET_NAME_WORDS, 'credential'],
    scope: 'keyword-line',
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
export const CODE_EXPRESSION = /[()[\]{};,]$|\(|^[A-Za-z_$][\w$]*(?:\.[\w$]+)+[,;]?$/;
function isCodeExpression(s: string): boolean {
  return CODE_EXPRESSION.test(s);
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

/** Every keyword of the rules above, for one automaton (secretlint.ts adds the preset's to the one the harvest uses). */
export const RULE_KEYWORDS: readonly string[] = [...new Set([...SPECIFIC_RULES, ...HEURISTIC_RULES].flatMap((r) => r.keywords ?? []))];
const RULE_SCANNER = new KeywordScanner(RULE_KEYWORDS);

/**
 * Findings of `rules` in `text`. `hits` must come from a scanner that knows every keyword of the rules; pass one
 * scan to several calls instead of scanning the text again.
 */
export function findWithRules(text: string, rules: readonly SecretRule[], hits: KeywordHits = RULE_SCANNER.scan(text)): SecretFinding[] {
  const found: SecretFinding[] = [];
  for (const rule of rules) {
    const words = rule.keywords ?? [];
    if (rule.keywords && !words.some((w) => hits.has(w))) continue;
    const ends = () => hits.endsOfAny(words);
    if (rule.scope === 'after-keyword') {
      for (const end of ends()) {
        rule.pattern.lastIndex = end;
        collect(rule, rule.pattern.exec(text), 0, found);
      }
    } else if (rule.scope === 'before-keyword') {
      collectBeforeKeywords(text, rule, ends(), found);
    } else if (rule.scope === 'keyword-line') {
      for (const [from, to] of keywordLines(text, ends())) {
        rule.pattern.lastIndex = 0;
        for (const m of text.slice(from, to).matchAll(rule.pattern)) collect(rule, m, from, found);
      }
    } else {
      rule.pattern.lastIndex = 0;
      for (const m of text.matchAll(rule.pattern)) collect(rule, m, 0, found);
    }
  }
  return found;
}

/**
 * The matches a global scan of `text` finds, trying the sticky pattern only at the positions `rule.reach` allows
 * before each keyword end (ascending): each position once, and none inside an earlier match, as a global scan
 * resumes after a match.
 */
function collectBeforeKeywords(text: string, rule: SecretRule, keywordEnds: readonly number[], found: SecretFinding[]): void {
  if (!rule.reach) throw new Error(`secret rule ${rule.id}: scope 'before-keyword' needs a reach`);
  const [nearest, farthest] = rule.reach;
  let next = 0;
  for (const end of keywordEnds) {
    for (let at = Math.max(next, end - farthest); at <= end - nearest; at = next) {
      rule.pattern.lastIndex = at;
      const m = rule.pattern.exec(text);
      next = at + Math.max(1, m?.[0].length ?? 0);
      collect(rule, m, 0, found);
    }
  }
}

function collect(rule: SecretRule, m: RegExpExecArray | RegExpMatchArray | null, offset: number, found: SecretFinding[]): void {
  const secret = m?.[rule.group];
  const at = m?.indices?.[rule.group];
  if (secret === undefined || at === undefined || (rule.accept && !rule.accept(secret))) return;
  found.push({ rule: rule.id, start: offset + at[0], end: offset + at[1] });
}

/** The line terminators of `^` and `$` in multiline patterns. */
function isLineBreak(c: number): boolean {
  return c === 10 || c === 13 || c === 0x2028 || c === 0x2029;
}
/** A line that may carry just the `export` of an assignment on a line below (`export\s+` can span lines). */
const EXPORT_ONLY_LINE = /^[ \t-]*(?:export)?\s*$/;

/**
 * The [from, to) ranges of the lines holding the given offsets, each widened upwards over lines that are blank or
 * only `export`, merged and in order — the text a whole-line rule must see to match there.
 */
function keywordLines(text: string, offsets: readonly number[]): [number, number][] {
  // Offsets ascend (KeywordHits.endsOfAny), so each line is found once and ranges merge with the previous one.
  const ranges: [number, number][] = [];
  for (const at of offsets) {
    const last = ranges[ranges.length - 1];
    if (last && at <= last[1]) continue;
    let from = lineStart(text, at - 1);
    while (from > 0) {
      const above = lineStart(text, from - 2);
      if (!EXPORT_ONLY_LINE.test(text.slice(above, from - 1))) break;
      from = above;
    }
    let to = at;
    while (to < text.length && !isLineBreak(text.charCodeAt(to))) to++;
    if (last && from <= last[1]) last[1] = to;
    else ranges.push([from, to]);
  }
  return ranges;
}

/** Offset of the start of the line holding `at` (0 for offsets before the text). */
function lineStart(text: string, at: number): number {
  let i = at;
  while (i >= 0 && !isLineBreak(text.charCodeAt(i))) i--;
  return i + 1;
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
  const hits = RULE_SCANNER.scan(text);
  return applyRedactions(text, mergeFindings([...findWithRules(text, SPECIFIC_RULES, hits), ...findWithRules(text, HEURISTIC_RULES, hits)]));
}
