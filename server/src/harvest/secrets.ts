/**
 * A first secret-redaction rule set. A model trained on a secret can complete it for anyone who has the adapter,
 * so every match is replaced by `<REDACTED:rule-id>` before the text leaves the harvest stage; only counts per rule
 * are kept. Rule ids are stable and named after what they find, so they can be mapped onto a maintained rule set
 * (gitleaks / secretlint ids) later.
 */

/** Minimum Shannon entropy (bits per character) of a value assigned to a secret-looking name. */
export const GENERIC_SECRET_MIN_ENTROPY = 3.5;
/** Values shorter than this assigned to secret-looking names are treated as placeholders, not secrets. */
export const GENERIC_SECRET_MIN_LENGTH = 12;

interface SecretRule {
  readonly id: string;
  readonly pattern: RegExp;
  /** Index of the capture group holding the secret; 0 = the whole match. */
  readonly group: number;
  /** Extra check on the captured secret (entropy, placeholders). */
  readonly accept?: (secret: string) => boolean;
}

export function placeholder(ruleId: string): string {
  return `<REDACTED:${ruleId}>`;
}

/** Specific rules first: a generic rule must not claim (and mislabel) a token a specific rule knows. */
export const SECRET_RULES: readonly SecretRule[] = [
  {
    id: 'private-key',
    pattern: /-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY( BLOCK)?-----[\s\S]*?-----END \1PRIVATE KEY( BLOCK)?-----/g,
    group: 0,
  },
  { id: 'aws-access-key-id', pattern: /\b((?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA)[0-9A-Z]{16})\b/g, group: 1 },
  {
    id: 'aws-secret-access-key',
    pattern: /aws_?secret_?(?:access_?)?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])/gi,
    group: 1,
  },
  { id: 'github-token', pattern: /\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255})\b/g, group: 1 },
  { id: 'github-fine-grained-token', pattern: /\b(github_pat_[A-Za-z0-9_]{22,255})\b/g, group: 1 },
  { id: 'gitlab-token', pattern: /\b(gl(?:pat|dt|rt|ptt)-[A-Za-z0-9_-]{20,})\b/g, group: 1 },
  { id: 'slack-token', pattern: /\b(xox[baprse]-[A-Za-z0-9-]{10,})\b/g, group: 1 },
  { id: 'slack-webhook', pattern: /(https:\/\/hooks\.slack\.com\/services\/[A-Za-z0-9_/]{20,})/g, group: 1 },
  { id: 'stripe-key', pattern: /\b((?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,})\b/g, group: 1 },
  { id: 'openai-style-key', pattern: /\b(sk-(?:proj-|ant-(?:api\d\d-)?|svcacct-)?[A-Za-z0-9_-]{20,})\b/g, group: 1 },
  { id: 'google-api-key', pattern: /\b(AIza[0-9A-Za-z_-]{35})\b/g, group: 1 },
  { id: 'jwt', pattern: /\b(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})/g, group: 1 },
  {
    id: 'url-password',
    // scheme://user:password@host — the password only, so the URL shape stays for the model to learn.
    pattern: /\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}:\/\/[^\s:/@"'`]{1,100}:([^\s@/"'`]{3,200})@[^\s/"'`]/g,
    group: 1,
    accept: (s) => !isPlaceholder(s),
  },
  {
    id: 'generic-secret-assignment',
    pattern:
      /(?:password|passwd|pwd|secret|api[_-]?key|apikey|access[_-]?key|auth[_-]?token|access[_-]?token|token|client[_-]?secret|private[_-]?key)["']?\s*(?::=|=>|[:=])\s*["'`]([^"'`\s]{12,200})["'`]/gi,
    group: 1,
    accept: (s) => s.length >= GENERIC_SECRET_MIN_LENGTH && !isPlaceholder(s) && shannonEntropy(s) >= GENERIC_SECRET_MIN_ENTROPY,
  },
];

/** Values that are obviously not secrets: template variables, env lookups, redactions, x-ed out examples. */
function isPlaceholder(s: string): boolean {
  return /^[$%{<]|^\*+$|^x+$|REDACTED|changeme|example|your[_-]?|placeholder|dummy|\.\.\./i.test(s);
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

export interface Redaction {
  readonly text: string;
  /** Matches per rule id (only rules that matched). */
  readonly counts: Record<string, number>;
}

/** Replaces every secret found by SECRET_RULES with its placeholder. */
export function redactSecrets(text: string): Redaction {
  const counts: Record<string, number> = {};
  let out = text;
  for (const rule of SECRET_RULES) {
    out = out.replace(rule.pattern, (match: string, ...rest: unknown[]) => {
      const secret = rule.group === 0 ? match : (rest[rule.group - 1] as string | undefined);
      if (secret === undefined || (rule.accept && !rule.accept(secret))) return match;
      counts[rule.id] = (counts[rule.id] ?? 0) + 1;
      if (rule.group === 0) return placeholder(rule.id);
      // Replace the secret inside the match, keeping the surrounding text (names, quotes, URL parts).
      const at = match.lastIndexOf(secret);
      return match.slice(0, at) + placeholder(rule.id) + match.slice(at + secret.length);
    });
  }
  return { text: out, counts };
}
