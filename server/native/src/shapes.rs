//! What must follow (or surround) a keyword for the secret rules it gates to match there. Each check re-states the
//! first part of its rules' patterns (server/src/harvest/secrets.ts and secretlint's preset 10.2.2; the patterns
//! are pinned by test/unit/harvestNative.test.ts) and answers yes wherever a rule could match: lengths are not
//! bounded above, a Unicode space or line end stops a check with yes (the rules' `\s` and `$` may take it), and
//! so does a value holding other non-ASCII characters where a length in UTF-16 units or an entropy would decide.
//! JavaScript then decides, so a yes costs time, never an outcome.

/// A keyword's check, by the name server/src/harvest/native.ts gives it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    /// The rules search the whole text: any occurrence is a yes.
    Anywhere,
    /// generic-secret-assignment and config-secret, after a secret-looking name.
    Assignment,
    /// url-password and secretlint's basicauth, after `://`.
    UrlCredentials,
    /// aws-secret-access-key and secretlint's aws rule, after `secret`.
    AwsSecret,
    /// secretlint's sendgrid rule: `(?<![A-Za-z])SG\.\w{1,128}\.\w…`.
    Sendgrid,
    /// stripe-key: `\b((?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,})\b`, at `_live_` / `_test_`.
    Stripe,
    /// huggingface-token: `\b(hf_[A-Za-z0-9]{34,})\b`.
    HuggingFace,
    /// private-key and secretlint's privatekey: `PRIVATE KEY` in capitals.
    PrivateKey,
    /// aws-access-key-id: `\b((?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|A3T[A-Z0-9])[0-9A-Z]{16})\b`.
    AwsKeyId,
    /// openai-style-key: `\b(sk-(?:proj-|ant-(?:api\d\d-|admin\d\d-)?|svcacct-)?[A-Za-z0-9_-]{20,})\b`.
    OpenAiKey,
    /// google-api-key: `\b(AIza[0-9A-Za-z_-]{35})\b`.
    GoogleApiKey,
}

/// secrets.ts: generic-secret-assignment takes values of `{12,200}`, config-secret `[^\s"'`#][^\s#]{7,200}`.
const GENERIC_SECRET_MIN_LENGTH: usize = 12;
const CONFIG_SECRET_MIN_VALUE: usize = 8;
/// secrets.ts GENERIC_SECRET_MIN_ENTROPY and CONFIG_SECRET_MIN_ENTROPY (bits per character).
const GENERIC_SECRET_MIN_ENTROPY: f64 = 3.5;
const CONFIG_SECRET_MIN_ENTROPY: f64 = 3.0;
/// Sums in another order can differ in the last bits: values this close to a bar count as above it.
pub const ENTROPY_MARGIN: f64 = 1e-9;
const STRIPE_MIN_KEY: usize = 16;
const HUGGINGFACE_MIN_TOKEN: usize = 34;
/// The least each key pattern takes after its literal (A3T's fourth character counts as part of the key here).
const AWS_KEY_ID_MIN_TAIL: usize = 16;
const OPENAI_KEY_MIN_TAIL: usize = 20;
const GOOGLE_API_KEY_TAIL: usize = 35;

impl Shape {
    pub fn from_name(name: &str) -> Option<Shape> {
        Some(match name {
            "anywhere" => Shape::Anywhere,
            "assignment" => Shape::Assignment,
            "url-credentials" => Shape::UrlCredentials,
            "aws-secret" => Shape::AwsSecret,
            "sendgrid" => Shape::Sendgrid,
            "stripe" => Shape::Stripe,
            "huggingface" => Shape::HuggingFace,
            "private-key" => Shape::PrivateKey,
            "aws-key-id" => Shape::AwsKeyId,
            "openai-key" => Shape::OpenAiKey,
            "google-api-key" => Shape::GoogleApiKey,
            _ => return None,
        })
    }

    /// Whether the answer depends on the occurrence's end alone (not on where it starts or what it spells).
    pub fn answers_from_end(self) -> bool {
        matches!(
            self,
            Shape::Anywhere | Shape::Assignment | Shape::UrlCredentials | Shape::AwsSecret
        )
    }

    /// Whether this keyword occurrence, at `start..end`, could be where one of the shape's rules matches.
    pub fn may_match_at(self, text: &[u8], start: usize, end: usize) -> bool {
        let found = &text[start..end];
        let answer = match self {
            Shape::Anywhere => Some(true),
            Shape::Assignment => {
                generic_assignment(text, end).and_then(|g| if g { Some(true) } else { config_assignment(text, end) })
            }
            Shape::UrlCredentials => url_credentials(text, end),
            Shape::AwsSecret => aws_secret(text, end),
            Shape::Sendgrid => sendgrid(text, start, end),
            Shape::Stripe => stripe(text, start, end),
            Shape::HuggingFace => {
                let token = skip(text, end, |b| b.is_ascii_alphanumeric());
                token.map(|t| found == b"hf_" && t - end >= HUGGINGFACE_MIN_TOKEN)
            }
            Shape::PrivateKey => Some(found == b"PRIVATE KEY"),
            Shape::AwsKeyId => {
                let capitals = !found.iter().any(u8::is_ascii_lowercase);
                key_after_literal(text, start, end, capitals, AWS_KEY_ID_MIN_TAIL, |b| {
                    b.is_ascii_uppercase() || b.is_ascii_digit()
                })
            }
            Shape::OpenAiKey => key_after_literal(text, start, end, found == b"sk-", OPENAI_KEY_MIN_TAIL, |b| {
                is_word(b) || b == b'-'
            }),
            Shape::GoogleApiKey => key_after_literal(text, start, end, found == b"AIza", GOOGLE_API_KEY_TAIL, |b| {
                is_word(b) || b == b'-'
            }),
        };
        answer.unwrap_or(true)
    }
}

/// Scans from `i` while the ASCII class `keep` holds, as a pattern's `[...]` or `\w` without the u flag: another
/// character ends the class. None (yes) at a Unicode space or line end where the class takes ASCII spaces: `\s`
/// in a rule may take it.
pub fn skip(text: &[u8], i: usize, keep: impl Fn(u8) -> bool) -> Option<usize> {
    skip_class(text, i, keep, false)
}

/// Scans from `i` over a negated class such as `[^\s"'`]`: besides the ASCII bytes `keep` takes, every non-ASCII
/// character but a Unicode space or line end belongs to it.
pub fn skip_negated(text: &[u8], i: usize, keep: impl Fn(u8) -> bool) -> Option<usize> {
    skip_class(text, i, keep, true)
}

fn skip_class(text: &[u8], mut i: usize, keep: impl Fn(u8) -> bool, non_ascii_inside: bool) -> Option<usize> {
    while let Some(&b) = text.get(i) {
        if b >= 0x80 {
            let c = char_at(text, i)?;
            if is_unicode_space(c) {
                // A class that takes ASCII spaces (`\s`, `[ \t]`) may take this one too; the negated classes
                // followed here exclude `\s`, and the other ASCII classes take no space.
                if keep(b' ') {
                    return None;
                }
                break;
            }
            if !non_ascii_inside {
                break;
            }
            i += c.len_utf8();
            continue;
        }
        if !keep(b) {
            break;
        }
        i += 1;
    }
    Some(i)
}

/// JavaScript's non-ASCII `\s` and line ends: Unicode's White_Space (which also has U+0085: a needless yes) and
/// the byte-order mark; U+180E, a space in older Unicode versions, to be safe.
fn is_unicode_space(c: char) -> bool {
    c.is_whitespace() || c == '\u{feff}' || c == '\u{180e}'
}

/// The character starting at byte `i`, or None where the bytes are not UTF-8.
fn char_at(text: &[u8], i: usize) -> Option<char> {
    let len = match text[i] {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => return None,
    };
    std::str::from_utf8(text.get(i..i + len)?).ok()?.chars().next()
}

pub fn is_js_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

pub fn is_quote(b: u8) -> bool {
    matches!(b, b'"' | b'\'' | b'`')
}

/// JavaScript's `\w` without the u flag.
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Shannon entropy in bits per character, as secrets.ts's shannonEntropy computes it for ASCII.
pub fn entropy_bits(s: &[u8]) -> f64 {
    let mut counts = [0u32; 128];
    for &b in s {
        counts[(b & 0x7f) as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| c as f64 / n)
        .map(|p| -p * p.log2())
        .sum()
}

/// Whether JavaScript's shannonEntropy could reach `bits` on this value: it counts UTF-16 units, so a value with
/// non-ASCII characters is a yes.
fn entropy_at_least(value: &[u8], bits: f64) -> bool {
    !value.is_ascii() || entropy_bits(value) >= bits - ENTROPY_MARGIN
}

/// generic-secret-assignment, tried right after the name: `["']?\s*(?::=|=>|[:=])\s*["'`]([^"'`\s]{12,200})["'`]`,
/// accepted only with GENERIC_SECRET_MIN_ENTROPY.
fn generic_assignment(text: &[u8], end: usize) -> Option<bool> {
    let at = |i: usize| text.get(i).copied();
    let mut i = end;
    if matches!(at(i), Some(b'"' | b'\'')) {
        i += 1;
    }
    i = skip(text, i, is_js_space)?;
    match (at(i), at(i + 1)) {
        (Some(b':'), Some(b'=')) | (Some(b'='), Some(b'>')) => i += 2,
        (Some(b':' | b'='), _) => i += 1,
        _ => return Some(false),
    }
    i = skip(text, i, is_js_space)?;
    if !at(i).is_some_and(is_quote) {
        return Some(false);
    }
    let value_end = skip_negated(text, i + 1, |b| !is_quote(b) && !is_js_space(b))?;
    let value = &text[i + 1..value_end];
    // A UTF-8 length is at least the UTF-16 one JavaScript counts, so the length test stays a superset.
    Some(
        value.len() >= GENERIC_SECRET_MIN_LENGTH
            && at(value_end).is_some_and(is_quote)
            && !is_placeholder(value)
            && entropy_at_least(value, GENERIC_SECRET_MIN_ENTROPY),
    )
}

/// config-secret, after the name: `[\w.-]*[ \t]*[:=][ \t]*([^\s"'`#][^\s#]{7,200})[ \t]*$` (multi-line), accepted
/// only with a digit, CONFIG_SECRET_MIN_ENTROPY and not a code expression (secrets.ts CODE_EXPRESSION). Within the
/// pattern's 200 characters the value here is the pattern's capture, so these tests are the rule's own.
fn config_assignment(text: &[u8], end: usize) -> Option<bool> {
    let is_blank = |b: u8| b == b' ' || b == b'\t';
    let mut j = skip(text, end, |b| is_word(b) || matches!(b, b'.' | b'-'))?;
    j = skip(text, j, is_blank)?;
    if !matches!(text.get(j), Some(b':' | b'=')) {
        return Some(false);
    }
    let start = skip(text, j + 1, is_blank)?;
    if text.get(start).is_some_and(|&b| is_quote(b) || b == b'#') {
        return Some(false);
    }
    let value_end = skip_negated(text, start, |b| !is_js_space(b) && b != b'#')?;
    let line_end = skip(text, value_end, is_blank)?;
    let value = &text[start..value_end];
    Some(
        value.len() >= CONFIG_SECRET_MIN_VALUE
            && matches!(text.get(line_end), None | Some(b'\n' | b'\r'))
            && value.iter().any(u8::is_ascii_digit)
            && !is_placeholder(value)
            && !is_code_expression(value)
            && entropy_at_least(value, CONFIG_SECRET_MIN_ENTROPY),
    )
}

/// secrets.ts isPlaceholder, `/^[$%{<]|^\*+$|^x+$|^(?:pass(?:word)?|passwd|pwd|secret|token|key)$|REDACTED|changeme|
/// example|your[_-]?|placeholder|dummy|\.\.\./i`: template variables, env lookups, redactions, x-ed out examples,
/// which the assignment rules never report. Half the files real Python sent to JavaScript held only such values
/// (`image_token = "<|image_pad|>"`). ASCII case-insensitive, as the pattern is: without the `u` flag, `i` never
/// folds a non-ASCII character to an ASCII one.
fn is_placeholder(value: &[u8]) -> bool {
    const WHOLE: [&[u8]; 7] = [b"pass", b"password", b"passwd", b"pwd", b"secret", b"token", b"key"];
    const INSIDE: [&[u8]; 7] = [
        b"redacted",
        b"changeme",
        b"example",
        b"your",
        b"placeholder",
        b"dummy",
        b"...",
    ];
    let all = |c: u8| !value.is_empty() && value.iter().all(|b| b.eq_ignore_ascii_case(&c));
    value.first().is_some_and(|b| b"$%{<".contains(b))
        || all(b'*')
        || all(b'x')
        || WHOLE.iter().any(|w| value.eq_ignore_ascii_case(w))
        || INSIDE
            .iter()
            .any(|w| value.windows(w.len()).any(|s| s.eq_ignore_ascii_case(w)))
}

/// secrets.ts CODE_EXPRESSION, `/[()[\]{};,]$|\(|^[A-Za-z_$][\w$]*(?:\.[\w$]+)+[,;]?$/`: a call, an index, or a
/// property path — what a secret-named key holds in code rather than in config.
fn is_code_expression(s: &[u8]) -> bool {
    if s.last().is_some_and(|b| b"()[]{};,".contains(b)) || s.contains(&b'(') {
        return true;
    }
    // A trailing `,` or `;` was caught above, so the path must fill the value.
    let ident = |b: &u8| is_word(*b) || *b == b'$';
    let Some((&first, rest)) = s.split_first() else {
        return false;
    };
    if !(first.is_ascii_alphabetic() || first == b'_' || first == b'$') {
        return false;
    }
    let mut parts = rest.split(|&b| b == b'.');
    let head_ok = parts.next().is_some_and(|head| head.iter().all(ident));
    let mut segments = 0;
    for part in parts {
        if part.is_empty() || !part.iter().all(ident) {
            return false;
        }
        segments += 1;
    }
    head_ok && segments > 0
}

/// After `://`: `userinfo:password@`, as url-password (`[^\s:/@"'`]{0,100}:([^\s@/"'`]{3,200})@`) and basicauth
/// (`[-a-zA-Z0-9_]{1,256}:[-a-zA-Z0-9_]{1,256}@`) need it; both classes are within the ones followed here.
fn url_credentials(text: &[u8], end: usize) -> Option<bool> {
    let stops = |b: u8| is_js_space(b) || is_quote(b) || matches!(b, b'/' | b'@');
    let colon = skip_negated(text, end, |b| !stops(b) && b != b':')?;
    if text.get(colon) != Some(&b':') {
        return Some(false);
    }
    let at = skip_negated(text, colon + 1, |b| !stops(b))?;
    Some(at > colon + 1 && text.get(at) == Some(&b'@'))
}

/// A key pattern of the form `\b(LITERAL[class]{min_tail,…})`: the literal in its exact case (`exact_case`, the
/// keyword search ignores case), no `\w` right before it, and at least `min_tail` bytes of `class` after it.
fn key_after_literal(
    text: &[u8],
    start: usize,
    end: usize,
    exact_case: bool,
    min_tail: usize,
    class: impl Fn(u8) -> bool,
) -> Option<bool> {
    if !exact_case || start.checked_sub(1).is_some_and(|i| is_word(text[i])) {
        return Some(false);
    }
    Some(skip(text, end, class)? - end >= min_tail)
}

/// `SG.` in capitals, no ASCII letter before it, then `\w+\.`.
fn sendgrid(text: &[u8], start: usize, end: usize) -> Option<bool> {
    if &text[start..end] != b"SG." || start.checked_sub(1).is_some_and(|i| text[i].is_ascii_alphabetic()) {
        return Some(false);
    }
    let dot = skip(text, end, is_word)?;
    Some(dot > end && text.get(dot) == Some(&b'.'))
}

/// `sk`, `rk` or `pk` before a lower-case `_live_` / `_test_`, and STRIPE_MIN_KEY letters or digits after it.
fn stripe(text: &[u8], start: usize, end: usize) -> Option<bool> {
    let found = &text[start..end];
    if !(found == b"_live_" || found == b"_test_")
        || start < 2
        || !matches!(&text[start - 2..start], b"sk" | b"rk" | b"pk")
    {
        return Some(false);
    }
    Some(skip(text, end, |b| b.is_ascii_alphanumeric())? - end >= STRIPE_MIN_KEY)
}

/// After `secret` (any case): `_?(?:access_?)?key["']?\s*` then `:` or `=` — the part both AWS patterns share
/// (secrets.ts: `aws_?secret_?(?:access_?)?key["']?\s*[:=]`, secretlint: `…SECRET_?ACCESS_?KEY["']?\s*(?::|=>|=)`).
fn aws_secret(text: &[u8], end: usize) -> Option<bool> {
    let lower = |i: usize, word: &[u8]| {
        text.get(i..i + word.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(word))
    };
    let mut i = end;
    if text.get(i) == Some(&b'_') {
        i += 1;
    }
    if lower(i, b"access") {
        i += 6;
        if text.get(i) == Some(&b'_') {
            i += 1;
        }
    }
    if !lower(i, b"key") {
        return Some(false);
    }
    i += 3;
    if matches!(text.get(i), Some(b'"' | b'\'')) {
        i += 1;
    }
    let op = skip(text, i, is_js_space)?;
    Some(matches!(text.get(op), Some(b':' | b'=')))
}

#[cfg(test)]
mod tests {
    use super::{is_code_expression, is_placeholder};

    #[test]
    fn placeholders_as_the_javascript_pattern_sees_them() {
        for yes in [
            "<|image_pad|>",
            "${DB_PASSWORD}",
            "%(pw)s",
            "{{ x }}",
            "*****",
            "xXxXx",
            "Password",
            "PWD",
            "key",
            "abcREDACTEDdef",
            "ChangeMe123",
            "my.Example.org",
            "YOUR_API_KEY",
            "placeholder1",
            "dummy-token",
            "a...b",
        ] {
            assert!(is_placeholder(yes.as_bytes()), "{yes}");
        }
        for no in [
            "Zq8xL2mN4<vR7",
            "passw0rd",
            "keys",
            "tokens",
            "xx*x",
            "",
            "you-r",
            "exampl",
            "ab..c",
            "ſecret",
            "\u{2028}x",
        ] {
            assert!(!is_placeholder(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn code_expressions_as_the_javascript_pattern_sees_them() {
        for yes in ["f(x)", "token[0]", "a.b.c", "$x.y2;", "_a.b,", "obj.attr", "x)", "{}"] {
            assert!(is_code_expression(yes.as_bytes()), "{yes}");
        }
        for no in ["abc123xyz", "a..b", "1a.b", "a.", ".a", "Zq8xL2mN4vR7", "a.b-c"] {
            assert!(!is_code_expression(no.as_bytes()), "{no}");
        }
    }
}
