//! The MinHash signature of server/src/harvest/neardup.ts (`minhashSignature`), bit for bit: one-permutation
//! hashing of 5-word shingles into 64 bins with rotation densification. Both read the text as UTF-8 bytes: a word
//! is a run of word bytes (ASCII letters, digits, `_`, and every byte of a non-ASCII character), everything else only
//! separates words, as in BigCode's near-deduplication of The Stack; a word's hash runs over its bytes four at a time
//! (word_hash). Here the words are found 64 bytes at a time from a bit mask (word_mask), and words of up to 16
//! bytes are hashed without a branch on their length: the per-byte loop this replaces mispredicted at every word
//! boundary. test/unit/harvestNative.test.ts compares the two implementations; the measurements are in neardup.ts.

pub const SIGNATURE_BINS: usize = 64;
pub const SHINGLE_TOKENS: u32 = 5;
pub const MIN_SHINGLES: u32 = 16;
const BIN_BITS: u32 = SIGNATURE_BINS.trailing_zeros();
const EMPTY: u32 = 0xffff_ffff;
const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;
const GOLDEN: u32 = 0x9e37_79b1;
/// neardup.ts WORD_MULT: one round of a word's hash per four bytes.
const WORD_MULT: u32 = 0x2545_f491;
/// Bytes whose words one pass of the mask loop finds.
const BLOCK: usize = 64;
#[cfg(target_arch = "x86_64")]
const _: () = assert!(BLOCK == crate::blockmask::BLOCK);
/// Readable bytes the fast path needs past a block: a word starting in it is hashed by loading 16 bytes.
const SLACK: usize = 16;
/// Longest word hashed without a loop.
const SHORT_WORD: usize = 16;

/// ASCII letters, digits and `_`, and every byte ≥ 0x80 (non-ASCII characters are word characters).
const fn word_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b >= 0x80 || b.is_ascii_alphanumeric() || b == b'_';
        c += 1;
    }
    t
}
const WORD_BYTE: [bool; 256] = word_table();

fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

struct Shingler {
    window: [u32; 4],
    words: u32,
    sig: [u32; SIGNATURE_BINS],
}

impl Shingler {
    #[inline(always)]
    fn push(&mut self, word: u32) {
        let [t0, t1, t2, t3] = self.window;
        self.window = [t1, t2, t3, word];
        self.words += 1;
        let mut h = FNV_OFFSET;
        for t in [t0, t1, t2, t3] {
            h = (h ^ t).wrapping_mul(GOLDEN);
        }
        let h = fmix32((h ^ word).wrapping_mul(GOLDEN));
        let bin = (h as usize) & (SIGNATURE_BINS - 1);
        // The first words only fill the window: their "shingles" must not count (no branch: this runs per word).
        let value = if self.words >= SHINGLE_TOKENS {
            h >> BIN_BITS
        } else {
            EMPTY
        };
        self.sig[bin] = self.sig[bin].min(value);
    }

    fn shingles(&self) -> u32 {
        self.words.saturating_sub(SHINGLE_TOKENS - 1)
    }
}

#[inline(always)]
fn load_le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// The hash of the word b[at..at + len]: h = (h ^ chunk) * WORD_MULT over its 4-byte little-endian chunks, the
/// last one zero-padded. Needs SLACK readable bytes from `at` when the word is short.
#[inline(always)]
fn word_hash(b: &[u8], at: usize, len: usize) -> u32 {
    if len > SHORT_WORD {
        return long_word_hash(&b[at..at + len]);
    }
    let keep = |n: usize| if n >= 8 { u64::MAX } else { (1u64 << (8 * n)) - 1 };
    let x = load_le64(b, at) & keep(len);
    let y = load_le64(b, at + 8) & keep(len.saturating_sub(8));
    let h1 = (FNV_OFFSET ^ x as u32).wrapping_mul(WORD_MULT);
    let h2 = (h1 ^ (x >> 32) as u32).wrapping_mul(WORD_MULT);
    let h3 = (h2 ^ y as u32).wrapping_mul(WORD_MULT);
    let h4 = (h3 ^ (y >> 32) as u32).wrapping_mul(WORD_MULT);
    // Selects (compiled to conditional moves) rather than a loop over ceil(len / 4) rounds.
    let rounds = len.div_ceil(4);
    let low = if rounds <= 1 { h1 } else { h2 };
    let high = if rounds <= 3 { h3 } else { h4 };
    if rounds <= 2 {
        low
    } else {
        high
    }
}

#[inline(never)]
fn long_word_hash(word: &[u8]) -> u32 {
    word.chunks(4).fold(FNV_OFFSET, |h, chunk| {
        let mut le = [0u8; 4];
        le[..chunk.len()].copy_from_slice(chunk);
        (h ^ u32::from_le_bytes(le)).wrapping_mul(WORD_MULT)
    })
}

/// Bit i: b[at + i] is a word byte.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn word_mask(b: &[u8], at: usize) -> u64 {
    use crate::blockmask::{eq, in_range, letter, mask, or};
    // A byte ≥ 0x80 has its sign bit set, which is all the mask reads: `or` with the byte itself takes it in.
    mask(&b[at..], |v| {
        or(or(v, in_range(v, b'0', 10)), or(letter(v), eq(v, b'_')))
    })
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn word_mask(b: &[u8], at: usize) -> u64 {
    b[at..at + BLOCK]
        .iter()
        .enumerate()
        .fold(0, |m, (i, &c)| m | (WORD_BYTE[c as usize] as u64) << i)
}

/// Pushes the words of b[from..] up to where fewer than BLOCK + SLACK bytes are left; returns where it stopped (not
/// inside a word). A word reaching the end of a block is left for the next block, which starts where it starts.
fn scan_blocks(b: &[u8], from: usize, s: &mut Shingler) -> usize {
    let mut at = from;
    while at + BLOCK + SLACK <= b.len() {
        let word = word_mask(b, at);
        let mut starts = word & !(word << 1);
        let mut next = at + BLOCK;
        while starts != 0 {
            let i = starts.trailing_zeros() as usize;
            let len = (!(word >> i)).trailing_zeros() as usize;
            if i + len == BLOCK {
                // The word may go on in the next bytes: the next block starts with it.
                next = at + i;
                break;
            }
            s.push(word_hash(b, at + i, len));
            starts &= starts - 1;
        }
        if next == at {
            // One word fills the whole block (a long identifier or encoded data): find its end byte by byte.
            let len = b[at..].iter().take_while(|&&c| WORD_BYTE[c as usize]).count();
            s.push(long_word_hash(&b[at..at + len]));
            next = at + len;
        }
        at = next;
    }
    at
}

/// The signature of a text's UTF-8 bytes, or None when it has fewer than MIN_SHINGLES shingles.
pub fn signature(bytes: &[u8]) -> Option<[u32; SIGNATURE_BINS]> {
    let mut s = Shingler {
        window: [0; 4],
        words: 0,
        sig: [EMPTY; SIGNATURE_BINS],
    };
    let rest = scan_blocks(bytes, 0, &mut s);
    // The last bytes (fewer than BLOCK + SLACK), padded with zeros: a zero byte only separates words.
    let mut tail = [0u8; 2 * (BLOCK + SLACK)];
    tail[..bytes.len() - rest].copy_from_slice(&bytes[rest..]);
    scan_blocks(&tail, 0, &mut s);
    if s.shingles() < MIN_SHINGLES {
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
    use super::*;

    /// The definition, one byte at a time.
    fn reference(text: &str) -> Option<[u32; SIGNATURE_BINS]> {
        let mut s = Shingler {
            window: [0; 4],
            words: 0,
            sig: [EMPTY; SIGNATURE_BINS],
        };
        let b = text.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let start = i;
            if WORD_BYTE[b[i] as usize] {
                while i < b.len() && WORD_BYTE[b[i] as usize] {
                    i += 1;
                }
                s.push(long_word_hash(&b[start..i]));
                continue;
            }
            i += 1;
        }
        (s.shingles() >= MIN_SHINGLES).then(|| densify(&s.sig))
    }

    #[test]
    fn short_texts_have_no_signature_and_reindenting_keeps_it() {
        assert!(signature(b"a b c").is_none());
        let text: String = (0..MIN_SHINGLES * 2)
            .map(|i| format!("let x{i} = f(y{i});\n"))
            .collect();
        let reindented = text.replace("let", "\t  let").replace(" = ", "=");
        let sign = |t: &str| signature(t.as_bytes());
        assert_eq!(sign(&text), sign(&reindented));
        assert_ne!(sign(&text), sign(&text.replace("f(", "g(")));
    }

    #[test]
    fn blocks_find_the_words_the_definition_does() {
        // Words of every length around the 16-byte fast path and the 64-byte block, at every offset to a block
        // boundary, words filling whole blocks, non-ASCII, and texts ending in a word.
        let mut seed = 7u32;
        let mut next = |n: u32| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) % n
        };
        let pieces = [" ", "\n", "(", "é", "中", "😀", "_", "=", "\u{a0}", "\u{7f}", "\t"];
        for round in 0..400 {
            let mut text = String::new();
            let pieces_in_text = 1 + next(120);
            for _ in 0..pieces_in_text {
                match next(4) {
                    0 => text.push_str(pieces[next(pieces.len() as u32) as usize]),
                    1 => text.push_str(&"x".repeat(1 + next(if round % 10 == 0 { 300 } else { 20 }) as usize)),
                    2 => text.push_str(&format!("{}", next(1 << 30))),
                    _ => text.push(' '),
                }
            }
            assert_eq!(signature(text.as_bytes()), reference(&text), "{text:?}");
        }
        for len in 0..200 {
            let text = format!("{} {}", "ab ".repeat(30), "z".repeat(len));
            assert_eq!(signature(text.as_bytes()), reference(&text), "{len}");
        }
    }

    #[test]
    fn word_hash_reads_four_byte_chunks() {
        let padded = |s: &[u8]| [s, &[0u8; SLACK]].concat();
        for word in [&b"a"[..], b"abcd", b"abcde", b"abcdefghijklmnop", b"abcdefghijklmnopq"] {
            assert_eq!(word_hash(&padded(word), 0, word.len()), long_word_hash(word));
        }
        let one = (FNV_OFFSET ^ u32::from_le_bytes(*b"ab\0\0")).wrapping_mul(WORD_MULT);
        assert_eq!(long_word_hash(b"ab"), one);
    }
}
