//! The MinHash signature of server/src/harvest/neardup.ts (`minhashSignature`), bit for bit: one-permutation
//! hashing of 5-token shingles into 64 bins with rotation densification. JavaScript reads a text as UTF-16 code
//! units, so this walks the UTF-8 bytes as UTF-16 units too (a non-ASCII character is one or two units, each a
//! word character). test/unit/harvestNative.test.ts compares the two on generated and real texts.

pub const SIGNATURE_BINS: usize = 64;
pub const SHINGLE_TOKENS: u32 = 5;
pub const MIN_SHINGLES: u32 = 16;
const BIN_BITS: u32 = SIGNATURE_BINS.trailing_zeros();
const EMPTY: u32 = 0xffff_ffff;
const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;
const GOLDEN: u32 = 0x9e37_79b1;
const PUNCT_MULT: u32 = 0x2545_f491;

/// ASCII letters, digits and `_` (every non-ASCII unit is a word character too).
const fn word_table() -> [bool; 128] {
    let mut t = [false; 128];
    let mut c = 0;
    while c < 128 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || b == b'_';
        c += 1;
    }
    t
}
const WORD_CHAR: [bool; 128] = word_table();

fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

struct Shingler {
    window: [u32; 4],
    tokens: u32,
    shingles: u32,
    sig: [u32; SIGNATURE_BINS],
}

impl Shingler {
    #[inline(always)]
    fn push(&mut self, token: u32) {
        let [t0, t1, t2, t3] = self.window;
        self.window = [t1, t2, t3, token];
        self.tokens += 1;
        if self.tokens < SHINGLE_TOKENS {
            return;
        }
        let mut h = FNV_OFFSET;
        for t in [t0, t1, t2, t3] {
            h = (h ^ t).wrapping_mul(GOLDEN);
        }
        let h = fmix32((h ^ token).wrapping_mul(GOLDEN));
        let bin = (h as usize) & (SIGNATURE_BINS - 1);
        let value = h >> BIN_BITS;
        if value < self.sig[bin] {
            self.sig[bin] = value;
        }
        self.shingles += 1;
    }
}

/// The signature of a valid UTF-8 text, or None when it has fewer than MIN_SHINGLES shingles.
pub fn signature(text: &str) -> Option<[u32; SIGNATURE_BINS]> {
    let mut s = Shingler {
        window: [0; 4],
        tokens: 0,
        shingles: 0,
        sig: [EMPTY; SIGNATURE_BINS],
    };
    let mut word = FNV_OFFSET;
    let mut in_word = false;
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut units = [0u16; 2];
    while i < bytes.len() {
        let b = bytes[i];
        let unit = if b < 0x80 {
            i += 1;
            b as u32
        } else {
            // A non-ASCII character: its UTF-16 units, as JavaScript's charCodeAt sees them; all are word units.
            let ch = text[i..].chars().next().expect("valid UTF-8");
            i += ch.len_utf8();
            for &u in ch.encode_utf16(&mut units).iter() {
                word = (word ^ u as u32).wrapping_mul(FNV_PRIME);
            }
            in_word = true;
            continue;
        };
        if WORD_CHAR[unit as usize] {
            word = (word ^ unit).wrapping_mul(FNV_PRIME);
            in_word = true;
            continue;
        }
        if in_word {
            s.push(word);
            word = FNV_OFFSET;
            in_word = false;
        }
        if unit > 32 {
            s.push(unit.wrapping_mul(PUNCT_MULT));
        }
    }
    if in_word {
        s.push(word);
    }
    if s.shingles < MIN_SHINGLES {
        return None;
    }
    Some(densify(&s.sig))
}

/// Empty bins borrow the next non-empty bin's value, offset by the distance.
fn densify(sig: &[u32; SIGNATURE_BINS]) -> [u32; SIGNATURE_BINS] {
    let mut out = *sig;
    for i in 0..SIGNATURE_BINS {
        if sig[i] != EMPTY {
            continue;
        }
        for d in 1..SIGNATURE_BINS {
            let v = sig[(i + d) % SIGNATURE_BINS];
            if v != EMPTY {
                out[i] = v.wrapping_add((d as u32).wrapping_mul(FNV_PRIME));
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{signature, MIN_SHINGLES};

    #[test]
    fn short_texts_have_no_signature_and_reindenting_keeps_it() {
        assert!(signature("a b c").is_none());
        let text: String = (0..MIN_SHINGLES * 2)
            .map(|i| format!("let x{i} = f(y{i});\n"))
            .collect();
        let reindented = text.replace("let", "\t  let").replace(" = ", "=");
        assert_eq!(signature(&text), signature(&reindented));
        assert_ne!(signature(&text), signature(&text.replace("f(", "g(")));
    }
}
