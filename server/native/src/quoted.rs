//! Whether secrets.ts's high-entropy-string rule could flag something in a text (gate.rs asks): a quote, 32 to 512
//! token characters (`["'`]([A-Za-z0-9+/_=-]{32,512})["'`]`) and the closing quote, accepted by `looksRandom`
//! (lower case, upper case and a digit, and at least HIGH_ENTROPY_MIN_BITS of entropy). A run longer than the
//! pattern takes, or within rounding of the entropy bar, counts as yes.
//!
//! Source code is full of quotes (one per 70 bytes of real Python) and almost none opens a long run, so quotes are
//! found 64 bytes at a time together with where 32 token bytes follow, and only those quotes are looked at. The
//! quote-by-quote search this replaces (memchr3, then counting the run) took 73 ms on 153 MB of real Python; with
//! this the whole gate went from 194 to 161 ms there, and from 197 to 203 ms on 200 MB of generated source, where
//! quotes are four times rarer (best of three, one thread, examples/stages.rs). Jumping over quote-free stretches
//! with memchr3 was tried and gained nothing.

use crate::shapes::{entropy_bits, is_quote, ENTROPY_MARGIN};

/// secrets.ts HIGH_ENTROPY_MIN_LENGTH and HIGH_ENTROPY_MIN_BITS, and the longest token its pattern takes.
const MIN_LENGTH: usize = 32;
const MAX_LENGTH: usize = 512;
const MIN_BITS: f64 = 4.5;
#[cfg(target_arch = "x86_64")]
use crate::blockmask::BLOCK;
// The run test halves the remaining width each step.
const _: () = assert!(MIN_LENGTH.is_power_of_two() && MIN_LENGTH <= 64);

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'_' | b'=' | b'-')
}

pub fn has_random_quoted_token(text: &[u8]) -> bool {
    #[allow(unused_mut)]
    let mut at = 0;
    #[cfg(target_arch = "x86_64")]
    {
        // The token mask of the block at the first offset, computed for the block before it.
        let mut ahead: Option<(usize, u64)> = None;
        while at + 2 * BLOCK <= text.len() {
            let quotes = masks(text, at, Class::Quote);
            // Most blocks hold no quote (one per 300 bytes in generated source): no token mask for those.
            if quotes != 0 {
                let tokens = match ahead {
                    Some((offset, mask)) if offset == at => mask,
                    _ => masks(text, at, Class::Token),
                };
                let next = masks(text, at + BLOCK, Class::Token);
                ahead = Some((at + BLOCK, next));
                // Bit i: bytes i + 1 ..= i + MIN_LENGTH (from this block into the next) are all token bytes.
                let mut run = ((tokens as u128) | ((next as u128) << 64)) >> 1;
                let mut covered = 1;
                while covered < MIN_LENGTH {
                    run &= run >> covered;
                    covered *= 2;
                }
                let mut candidates = quotes & run as u64;
                while candidates != 0 {
                    if flags_at(text, at + candidates.trailing_zeros() as usize) {
                        return true;
                    }
                    candidates &= candidates - 1;
                }
            }
            at += BLOCK;
        }
    }
    // The last bytes (every byte on other CPUs), one quote at a time.
    memchr::memchr3_iter(b'"', b'\'', b'`', &text[at..]).any(|q| flags_at(text, at + q))
}

/// Whether the quote at `q` opens a value the rule could flag.
fn flags_at(text: &[u8], q: usize) -> bool {
    let run = text[q + 1..].iter().take_while(|&&b| is_token(b)).count();
    if run < MIN_LENGTH {
        return false;
    }
    if run > MAX_LENGTH {
        return true;
    }
    let value = &text[q + 1..q + 1 + run];
    text.get(q + 1 + run).copied().is_some_and(is_quote)
        && value.iter().any(u8::is_ascii_lowercase)
        && value.iter().any(u8::is_ascii_uppercase)
        && value.iter().any(u8::is_ascii_digit)
        && entropy_bits(value) >= MIN_BITS - ENTROPY_MARGIN
}

#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
enum Class {
    Token,
    Quote,
}

/// Bit i: text[at + i] is of the class.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn masks(text: &[u8], at: usize, class: Class) -> u64 {
    use crate::blockmask::{eq, in_range, letter, mask, or};
    match class {
        Class::Token => mask(&text[at..], |v| {
            let sign = or(or(eq(v, b'+'), eq(v, b'/')), or(eq(v, b'='), eq(v, b'-')));
            or(or(letter(v), in_range(v, b'0', 10)), or(sign, eq(v, b'_')))
        }),
        Class::Quote => mask(&text[at..], |v| or(or(eq(v, b'"'), eq(v, b'\'')), eq(v, b'`'))),
    }
}

#[cfg(test)]
mod tests {
    use super::{flags_at, has_random_quoted_token};

    /// The definition: every quote, one at a time.
    fn reference(text: &[u8]) -> bool {
        (0..text.len()).any(|q| super::is_quote(text[q]) && flags_at(text, q))
    }

    #[test]
    fn finds_what_looking_at_every_quote_finds() {
        let mut state = 0x2545_f491_u32;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        let random_token = "aB3xQ9zLm2Kp7Rt5Wv8Yc1Nd4Fg6Hj0S";
        let (mut yes, mut no) = (0, 0);
        for _ in 0..3000 {
            let mut text = Vec::new();
            while text.len() < (next() % 400) as usize {
                match next() % 7 {
                    0 => text.push(b"\"'`"[(next() % 3) as usize]),
                    1 => text.extend_from_slice(&random_token.as_bytes()[..(next() % 33) as usize]),
                    // A quoted value around the bar: 31 to 33 token bytes, closed or not.
                    6 if next() % 2 == 0 => {
                        text.push(b'\'');
                        text.extend_from_slice(random_token.as_bytes());
                        match next() % 4 {
                            0 => {
                                text.pop();
                            }
                            1 => text.push(b'Z'),
                            _ => {}
                        }
                        if next() % 4 != 0 {
                            text.push(b'\'');
                        }
                    }
                    2 => text.extend_from_slice(b"Zq8/xL+2mN=4-vR_7pT1w"),
                    3 => text.push(b" \n(.,:"[(next() % 6) as usize]),
                    4 => text.extend(std::iter::repeat_n(b'a', (next() % 40) as usize)),
                    5 => text.extend_from_slice("é".as_bytes()),
                    _ => text.extend_from_slice(b"0123456789"),
                }
            }
            let expected = reference(&text);
            assert_eq!(
                has_random_quoted_token(&text),
                expected,
                "{:?}",
                String::from_utf8_lossy(&text)
            );
            if expected {
                yes += 1
            } else {
                no += 1
            }
        }
        assert!(yes > 300 && no > 300, "{yes} yes, {no} no");
        // A run across the end of a block, and one reaching the text's end.
        for at in [30, 31, 32, 33, 63, 64, 65, 95, 96, 127] {
            let mut text = vec![b' '; 200];
            text[at] = b'"';
            text[at + 1..at + 33].copy_from_slice(random_token.as_bytes());
            text[at + 33] = b'"';
            assert!(has_random_quoted_token(&text), "quote at {at}");
            assert!(!has_random_quoted_token(&text[..at + 33]), "unclosed at {at}");
        }
    }
}
