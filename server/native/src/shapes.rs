//! What must follow (or surround) a keyword for the secret rules it gates to match there. Each check re-states the
//! first part of its rules' patterns (server/src/harvest/secrets.ts and secretlint's preset 10.2.2; the patterns
//! are pinned by test/unit/harvestNative.test.ts) and answers yes wherever a rule could match: lengths are not
//! bounded above, and a non-ASCII character stops a check with yes (it may be one of JavaScript's Unicode spaces
//! or line ends). JavaScript then decides, so a yes costs time, never an outcome.

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
            _ => return None,
        })
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
        };
        answer.unwrap_or(true)
    }
}

/// Scans the bytes from `i` while `keep` holds; None at a non-ASCII byte.
pub fn skip(text: &[u8], mut i: usize, keep: impl Fn(u8) -> bool) -> Option<usize> {
    while let Some(&b) = text.get(i) {
        if b >= 0x80 {
            return None;
        }
        if !keep(b) {
            break;
        }
        i += 1;
    }
    Some(i)
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
    let value_end = skip(text, i + 1, |b| !is_quote(b) && !is_js_space(b))?;
    let value = &text[i + 1..value_end];
    Some(
        value.len() >= GENERIC_SECRET_MIN_LENGTH
            && at(value_end).is_some_and(is_quote)
            && entropy_bits(value) >= GENERIC_SECRET_MIN_ENTROPY - ENTROPY_MARGIN,
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
    let value_end = skip(text, start, |b| !is_js_space(b) && b != b'#')?;
    let line_end = skip(text, value_end, is_blank)?;
    let value = &text[start..value_end];
    Some(
        value.len() >= CONFIG_SECRET_MIN_VALUE
            && matches!(text.get(line_end), None | Some(b'\n' | b'\r'))
            && value.iter().any(u8::is_ascii_digit)
            && !is_code_expression(value)
            && entropy_bits(value) >= CONFIG_SECRET_MIN_ENTROPY - ENTROPY_MARGIN,
    )
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
    let colon = skip(text, end, |b| !stops(b) && b != b':')?;
    if text.get(colon) != Some(&b':') {
        return Some(false);
    }
    let at = skip(text, colon + 1, |b| !stops(b))?;
    Some(at > colon + 1 && text.get(at) == Some(&b'@'))
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
    use super::is_code_expression;

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
