//! Which files may skip the JavaScript path: a file is "plain" when decoding leaves its bytes unchanged and keeps
//! it (server/src/harvest/filters.ts `decodeContent`), and no secret rule could match in it (secrets.ts and
//! secretlint.ts). Every test here is a superset of the JavaScript one it stands for — when in doubt a file goes to
//! JavaScript, which then decides — so skipping can change speed but never an outcome.
//! test/unit/harvestNative.test.ts checks that on planted secrets, excluded files and generated texts.

use crate::keywords::KeywordSet;

/// filters.ts BINARY_SNIFF_BYTES.
const BINARY_SNIFF_BYTES: usize = 8 * 1024;
/// filters.ts LFS_POINTER_PREFIX.
const LFS_POINTER_PREFIX: &[u8] = b"version https://git-lfs.github.com/spec/v1";
/// filters.ts MINIFIED_MIN_CHARS, MINIFIED_AVG_LINE_CHARS, GENERATED_HEADER_LINES.
const MINIFIED_MIN_CHARS: usize = 1000;
const MINIFIED_AVG_LINE_CHARS: usize = 200;
const GENERATED_HEADER_LINES: usize = 10;
/// Lower-case words that every generated-file marker holds (filters.ts GENERATED_MARKERS).
const GENERATED_MARKER_WORDS: [&[u8]; 2] = [b"generated", b"do not edit"];
/// secrets.ts: the shortest value generic-secret-assignment's pattern takes (`{12,200}`), and config-secret's
/// (`[^\s"'`#][^\s#]{7,200}`).
const GENERIC_SECRET_MIN_LENGTH: usize = 12;
const CONFIG_SECRET_MIN_VALUE: usize = 8;
/// secrets.ts HIGH_ENTROPY_MIN_LENGTH: the shortest quoted token the high-entropy rule looks at.
const HIGH_ENTROPY_MIN_LENGTH: usize = 32;

/// The text when `bytes` decode to themselves and the file is kept; None when JavaScript must decide (binary,
/// not UTF-8, LFS pointer, BOM, CR line ends, maybe empty, minified or generated).
pub fn plain_text(bytes: &[u8]) -> Option<&str> {
    if memchr::memchr(0, &bytes[..bytes.len().min(BINARY_SNIFF_BYTES)]).is_some() {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    if bytes.starts_with(LFS_POINTER_PREFIX) || text.starts_with('\u{feff}') || memchr::memchr(b'\r', bytes).is_some() {
        return None;
    }
    // JavaScript's trim() keeps something iff there is a non-space character; a visible ASCII one settles it.
    if !bytes.iter().any(|&b| (0x21..=0x7e).contains(&b)) {
        return None;
    }
    let utf16_len = if bytes.is_ascii() {
        bytes.len()
    } else {
        text.chars().map(char::len_utf16).sum::<usize>()
    };
    let lines = 1 + memchr::memchr_iter(b'\n', bytes).count();
    if utf16_len >= MINIFIED_MIN_CHARS && lines * MINIFIED_AVG_LINE_CHARS < utf16_len {
        return None;
    }
    let header_end = memchr::memchr_iter(b'\n', bytes)
        .nth(GENERATED_HEADER_LINES - 1)
        .unwrap_or(bytes.len());
    let header = bytes[..header_end].to_ascii_lowercase();
    if GENERATED_MARKER_WORDS
        .iter()
        .any(|w| memchr::memmem::find(&header, w).is_some())
    {
        return None;
    }
    Some(text)
}

/// Whether any secret rule could match a text: keyword gates as the rules use them, plus the two rule shapes that
/// run without a keyword anywhere in the text.
pub struct SecretGate {
    keywords: KeywordSet,
    /// Patterns below this index gate rules that search the whole text: any occurrence sends the file to
    /// JavaScript. The rest only start an assignment rule right after them (see may_start_assignment).
    anywhere: usize,
}

impl SecretGate {
    pub fn new(anywhere: &[String], assignment: &[String]) -> Result<Self, String> {
        let all: Vec<String> = anywhere.iter().chain(assignment).cloned().collect();
        let keywords = KeywordSet::new(&all)?;
        Ok(Self {
            keywords,
            anywhere: anywhere.len(),
        })
    }

    pub fn may_match(&self, text: &[u8]) -> bool {
        self.keywords.any(text, |word, end| {
            word < self.anywhere || may_start_assignment(text, end)
        }) || has_quoted_token(text)
    }
}

/// Whether a secret-name keyword ending at `end` could name the secret of secrets.ts's two assignment rules.
/// Each check follows its rule's pattern up to the value's length; beyond that (entropy, placeholders) JavaScript
/// decides. A non-ASCII character stops a check with yes: it may be one of JavaScript's Unicode spaces or line ends.
fn may_start_assignment(text: &[u8], end: usize) -> bool {
    generic_assignment(text, end).unwrap_or(true) || config_assignment(text, end).unwrap_or(true)
}

/// Scans the bytes from `i` while `keep` holds; None at a non-ASCII byte.
fn skip(text: &[u8], mut i: usize, keep: impl Fn(u8) -> bool) -> Option<usize> {
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

fn is_js_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn is_quote(b: u8) -> bool {
    matches!(b, b'"' | b'\'' | b'`')
}

/// generic-secret-assignment, tried right after the name: `["']?\s*(?::=|=>|[:=])\s*["'`]([^"'`\s]{12,200})["'`]`.
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
    Some(value_end - (i + 1) >= GENERIC_SECRET_MIN_LENGTH && at(value_end).is_some_and(is_quote))
}

/// config-secret, after the name: `[\w.-]*[ \t]*[:=][ \t]*([^\s"'`#][^\s#]{7,200})[ \t]*$` (multi-line).
fn config_assignment(text: &[u8], end: usize) -> Option<bool> {
    let is_blank = |b: u8| b == b' ' || b == b'\t';
    let mut j = skip(text, end, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
    })?;
    j = skip(text, j, is_blank)?;
    if !matches!(text.get(j), Some(b':' | b'=')) {
        return Some(false);
    }
    let value = skip(text, j + 1, is_blank)?;
    if text.get(value).is_some_and(|&b| is_quote(b) || b == b'#') {
        return Some(false);
    }
    let value_end = skip(text, value, |b| !is_js_space(b) && b != b'#')?;
    let line_end = skip(text, value_end, is_blank)?;
    Some(value_end - value >= CONFIG_SECRET_MIN_VALUE && matches!(text.get(line_end), None | Some(b'\n' | b'\r')))
}

/// Whether a quote is followed by HIGH_ENTROPY_MIN_LENGTH token characters: where secrets.ts's
/// high-entropy-string rule (`["'\`]([A-Za-z0-9+/_=-]{32,512})["'\`]`) can start.
fn has_quoted_token(text: &[u8]) -> bool {
    memchr::memchr3_iter(b'"', b'\'', b'`', text).any(|q| {
        let run = text[q + 1..]
            .iter()
            .take(HIGH_ENTROPY_MIN_LENGTH)
            .take_while(|&&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'_' | b'=' | b'-'));
        run.count() >= HIGH_ENTROPY_MIN_LENGTH
    })
}

#[cfg(test)]
mod tests {
    use super::{plain_text, SecretGate};

    fn gate() -> SecretGate {
        SecretGate::new(&["://".into(), "secret".into()], &["token".into(), "password".into()]).unwrap()
    }

    #[test]
    fn plain_text_leaves_every_special_case_to_javascript() {
        assert!(plain_text(b"fn main() {}\n").is_some());
        let long_line = format!("var a = {};\n", "1+".repeat(700));
        let cases: [&[u8]; 9] = [
            b"a\0b",               // binary
            b"\xff\xfe bad utf-8", // not UTF-8
            b"version https://git-lfs.github.com/spec/v1\noid sha256:00\n",
            b"\xef\xbb\xbfbom",            // BOM
            b"crlf\r\nline\r\n",           // CR
            b"   \n\t \n",                 // empty after trim
            "\u{a0}\u{3000}\n".as_bytes(), // only Unicode spaces
            b"// Code generated by protoc. DO NOT EDIT.\npackage x\n",
            long_line.as_bytes(), // minified
        ];
        for (i, c) in cases.iter().enumerate() {
            assert!(plain_text(c).is_none(), "case {i}");
        }
    }

    #[test]
    fn any_anywhere_keyword_or_quoted_token_needs_the_rules() {
        let g = gate();
        assert!(g.may_match(b"see https://example.com"));
        assert!(g.may_match(b"let SECRET_NAME = 1"));
        assert!(g.may_match(b"k = \"AbCdEfGhIjKlMnOpQrStUvWxYz012345\""));
        assert!(!g.may_match(b"k = \"AbCdEfGhIjKlMnOpQrStUvWxYz0123\" + short"));
        assert!(!g.may_match(b"fn add(a: i32) -> i32 { a + 1 }"));
    }

    #[test]
    fn assignment_keywords_need_an_assignment_shape() {
        let g = gate();
        for yes in [
            "token = \"0123456789abcdef\"",
            "password:  'abcdefghijkl'",
            "apiToken := \"xxxxxxxxxxxxxxxx\"",
            "\"token\" => `abcdefghijklmnop`",
            "DB_PASSWORD=hunter2hunter2\n",
            "  - token.value: s3cr3tvalue99  \nnext",
            "token =\u{a0}\"x\"",
        ] {
            assert!(g.may_match(yes.as_bytes()), "{yes:?}");
        }
        for no in [
            "const tokenizer = makeTokenizer(a, b);",
            "token = \"short\"",
            "password = getPassword(user) + suffix",
            "tokens.push(t)",
            "let password: string;",
            "DB_PASSWORD=short\n",
        ] {
            assert!(!g.may_match(no.as_bytes()), "{no:?}");
        }
    }
}
