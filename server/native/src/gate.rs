//! Which files may skip the JavaScript path: a file is "plain" when decoding leaves its bytes unchanged and keeps
//! it (decode.rs, as server/src/harvest/filters.ts `decodeContent`), and no secret rule could match in it (this
//! file; secrets.ts and secretlint.ts); lib.rs `settle` puts the two together. Every test here is a superset of
//! the JavaScript one it stands for — when in doubt a file goes to JavaScript, which then decides — so skipping can
//! change speed but never an outcome.
//! test/unit/harvestNative.test.ts checks that on planted secrets, excluded files and generated texts.

use crate::keywords::KeywordSet;
use crate::quoted::has_random_quoted_token;
use crate::shapes::Shape;

/// Whether any secret rule could match a text: each keyword occurrence with its checks (shapes.rs), plus the one
/// rule that runs without a keyword (high-entropy-string).
pub struct SecretGate {
    keywords: KeywordSet,
    /// Per keyword (in KeywordSet order): the checks its occurrences get; any yes sends the file to JavaScript.
    shapes: Vec<Vec<Shape>>,
}

impl SecretGate {
    /// `checks`: (check name, the lower-case keywords it applies to); a keyword may be under several checks.
    pub fn new(checks: &[(String, Vec<String>)]) -> Result<Self, String> {
        let mut words: Vec<String> = Vec::new();
        let mut shapes: Vec<Vec<Shape>> = Vec::new();
        for (name, keywords) in checks {
            let shape = Shape::from_name(name).ok_or_else(|| format!("unknown keyword check {name:?}"))?;
            for k in keywords {
                // An occurrence of `client_secret` ends where one of `secret` does: a check that looks only at
                // that end gives both the same answer, so the longer keyword adds nothing but search time.
                if shape.answers_from_end() && keywords.iter().any(|o| o.len() < k.len() && k.ends_with(o.as_str())) {
                    continue;
                }
                let i = words.iter().position(|w| w == k).unwrap_or_else(|| {
                    words.push(k.clone());
                    shapes.push(Vec::new());
                    words.len() - 1
                });
                shapes[i].push(shape);
            }
        }
        Ok(Self {
            keywords: KeywordSet::new(&words)?,
            shapes,
        })
    }

    /// Whether the keyword search runs on SIMD (see KeywordSet::uses_simd).
    pub fn uses_simd(&self) -> bool {
        self.keywords.uses_simd()
    }

    pub fn may_match(&self, text: &[u8]) -> bool {
        self.first_reason(text).is_some()
    }

    /// Why a text may match (for diagnostics, examples/stages.rs): the first keyword whose check said yes, with
    /// the check, or the quoted random-looking token; None when no rule could match.
    pub fn first_reason(&self, text: &[u8]) -> Option<String> {
        let mut reason = None;
        self.keywords.any(text, |word, start, end| {
            let shape = self.shapes[word].iter().find(|s| s.may_match_at(text, start, end));
            if let Some(s) = shape {
                reason = Some(format!("{:?} {:?}", s, String::from_utf8_lossy(&text[start..end])));
            }
            shape.is_some()
        });
        reason.or_else(|| has_random_quoted_token(text).then(|| "quoted random token".to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::SecretGate;

    fn gate() -> SecretGate {
        let check = |name: &str, words: &[&str]| (name.to_string(), words.iter().map(|w| w.to_string()).collect());
        SecretGate::new(&[
            check("anywhere", &["eyj"]),
            check("private-key", &["private key"]),
            check("aws-key-id", &["akia", "asia", "aida", "a3t"]),
            check("openai-key", &["sk-"]),
            check("google-api-key", &["aiza"]),
            check("assignment", &["token", "password", "secret"]),
            check("aws-secret", &["secret"]),
            check("url-credentials", &["://"]),
            check("sendgrid", &["sg."]),
            check("stripe", &["_live_", "_test_"]),
            check("huggingface", &["hf_"]),
        ])
        .unwrap()
    }

    #[test]
    fn any_anywhere_keyword_or_quoted_token_needs_the_rules() {
        let g = gate();
        assert!(g.may_match(b"t = eyJhbGciOi"));
        assert!(g.may_match(b"k = \"AbCdEfGhIjKlMnOpQrStUvWxYz012345\""));
        assert!(!g.may_match(b"k = \"AbCdEfGhIjKlMnOpQrStUvWxYz0123\" + short"));
        assert!(!g.may_match(b"k = \"abcdef0123456789abcdef0123456789abcdef01\"")); // hex: no upper case
        assert!(!g.may_match(b"k = \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAbc12\"")); // low entropy
        assert!(g.may_match(format!("k = '{}'", "aB1".repeat(200)).as_bytes())); // longer than the pattern takes
        assert!(!g.may_match(b"fn add(a: i32) -> i32 { a + 1 }"));
    }

    #[test]
    fn keywords_of_specific_rules_need_their_shape() {
        let g = gate();
        for yes in [
            "AWS_SECRET_ACCESS_KEY = x",
            "aws_secret_key: x",
            "\"SecretAccessKey\" => x",
            "k = SG.abc.def",
            "sk_live_0123456789abcdef",
            "rk_test_0123456789abcdefXYZ",
            "hf_abcdefghijklmnopqrstuvwxyz01234567",
            "-----BEGIN RSA PRIVATE KEY-----",
            "id=AKIAIOSFODNN7EXAMPLE",
            "'ASIA0123456789ABCDEF'",
            "A3TX0123456789ABCDEF",
            "\u{e9}AIDA0123456789ABCDEF",
            "key: sk-proj-abcdefghij0123456789",
            "(sk-ant-api03-abcdefghij_0123456789)",
            "AIzaSyA-abcdefghijklmnopqrstuvwxyz01234",
            "token = \"Zq8xL2mN4<vR7pT1w\"",
            "PASSWORD=Zq8xL2mN4vR7",
        ] {
            assert!(g.may_match(yes.as_bytes()), "{yes:?}");
        }
        for no in [
            "let secret_sauce = 1;",
            "msg.append(x)",
            "sg.send()",
            "XSG.abc.def",
            "def my_test_case(): pass",
            "sk_test_short",
            "self.hf_config = c",
            "# read the private key from disk",
            "Asia/Tokyo",
            "ASIAN_MARKETS",
            "XAKIAIOSFODNN7EXAMPLE",
            "akiaiosfodnn7example",
            "AKIAIOSFODNN7EXAMPL",
            "task-queue and risk-free",
            "sk-short",
            "mask-abcdefghij0123456789abcd",
            "AIzaShort",
            "sk-abcdefghij\u{e9}0123456789",
            "sk-abcdefghij\u{a0}0123456789",
            "aiza0123456789abcdefghijklmnopqrstuvwxyz",
            // Placeholders, which the assignment rules never report.
            "image_token = \"<|image_pad|>\"",
            "password: \"${DB_PASSWORD_VALUE}\"",
            "secret = 'your-secret-goes-here9'",
            "PASSWORD=changeme12345",
            "token: \"xxxxxxxxxxxxxxxx\"",
        ] {
            assert!(!g.may_match(no.as_bytes()), "{no:?}");
        }
    }

    #[test]
    fn a_keyword_ending_in_another_of_its_end_only_check_is_not_searched_but_still_gated() {
        let check = |name: &str, words: &[&str]| (name.to_string(), words.iter().map(|w| w.to_string()).collect());
        let both = SecretGate::new(&[
            check("assignment", &["token", "auth_token"]),
            check("stripe", &["_test_"]),
        ])
        .unwrap();
        let alone = SecretGate::new(&[check("assignment", &["auth_token"])]).unwrap();
        assert_eq!(both.keywords.len(), 2, "auth_token is left to token's occurrences");
        for text in [
            "AUTH_TOKEN = \"x8Kd02mQz7Lp4Rt9\"",
            "auth_token: abc123def456x",
            "auth_token = f(x)",
            "x.auth_tokens",
        ] {
            assert_eq!(
                both.may_match(text.as_bytes()),
                alone.may_match(text.as_bytes()),
                "{text:?}"
            );
        }
        // Checks that look at where the keyword starts keep every keyword.
        let stripe = SecretGate::new(&[check("stripe", &["_test_", "k_test_"])]).unwrap();
        assert_eq!(stripe.keywords.len(), 2);
    }

    #[test]
    fn urls_need_credentials() {
        let g = gate();
        for yes in [
            "postgres://app:hunter2@db:5432/x",
            "https://u:p@h.io",
            "ftp://x:y:z@h",
            "http://a:\u{e9}t\u{e9}@h",
        ] {
            assert!(g.may_match(yes.as_bytes()), "{yes:?}");
        }
        for no in [
            "http://www.apache.org/licenses/LICENSE-2.0",
            "see https://h.io:8080/a@b",
            "git://h.io:@x",
            "s3://bucket/key",
        ] {
            assert!(!g.may_match(no.as_bytes()), "{no:?}");
        }
    }

    #[test]
    fn assignment_keywords_need_an_assignment_shape() {
        let g = gate();
        for yes in [
            "token = \"0123456789abcdef\"",
            "DB_SECRET=abc123def456",
            "password:  'abcdefghijkl'",
            "apiToken := \"x8Kd02mQz7Lp4Rt9\"",
            "\"token\" => `a8Kd02mQz7Lp4Rt9`",
            "DB_PASSWORD=hunter2Xq9zLm\n",
            "  - token.value: s3cr3tvalue99  \nnext",
            "token =\u{a0}\"x\"",
            "token =\u{feff}\"0123456789abcdef\"",
            "token = \"\u{e9}t\u{e9}0123456789abcdef\"", // length and entropy in UTF-16 units: JavaScript's call
            "token = \"\u{3b1}\u{3b2}\u{3b3}\u{3b4}\u{3b5}\u{3b6}\u{3b7}\u{3b8}\u{3b9}\u{3ba}\u{3bb}\u{3bc}\"", // 3.58 bits
            "DB_TOKEN=abc123def456\u{2028}",
            "http://user:p\u{e4}ss@h.io",
        ] {
            assert!(g.may_match(yes.as_bytes()), "{yes:?}");
        }
        for no in [
            "const tokenizer = makeTokenizer(a, b);",
            "token = \"short\"",
            "token = \"aaaaaaaaaaaaaaaaaaaa\"",   // no entropy
            "password = config.db_password_name", // config value without a digit
            "password = getPassword(user) + suffix",
            "tokens.push(t)",
            "let password: string;",
            "DB_PASSWORD=short\n",
            "per token \u{2014} the router score",
            "image_token \u{2014} = x",
            "self.pre_tokenizer = pre_tokenizers.Metaspace(replacement=\"\u{2581}\")",
            "see https://\u{e9}t\u{e9}.example/a@b",
            "https://user\u{a0}name:pass@h.io",
            "https://user\u{2028}name:pass@h.io",
            "sk-abcdefghij\u{3000}0123456789",
            "token = \"0123456789abcdef\u{a0}\"",
        ] {
            assert!(!g.may_match(no.as_bytes()), "{no:?}");
        }
    }
}
