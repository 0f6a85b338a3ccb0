//! 64 bytes as a bit mask of a byte class, with SSE2 (part of every x86_64 CPU): minhash.rs finds words this way,
//! quoted.rs quotes and runs of token characters. A class is a few compares on 16 bytes at a time.
#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

/// Bytes one mask covers.
pub const BLOCK: usize = 64;

/// Bit i: `class` says yes (0xff) for block[i]. `block` must hold at least BLOCK bytes.
#[inline(always)]
pub fn mask(block: &[u8], class: impl Fn(__m128i) -> __m128i) -> u64 {
    let block = &block[..BLOCK];
    let mut mask = 0u64;
    for q in 0..BLOCK / 16 {
        // SAFETY: SSE2 is part of x86_64; the load reads 16 bytes inside `block`.
        let bits = unsafe { _mm_movemask_epi8(class(_mm_loadu_si128(block.as_ptr().add(16 * q) as *const __m128i))) };
        mask |= (bits as u32 as u64) << (16 * q);
    }
    mask
}

/// 0xff where x is in lo ..= lo + n - 1 (unsigned). Adding 0x80 turns the unsigned range test into the signed compare
/// SSE2 has.
#[inline(always)]
pub fn in_range(x: __m128i, lo: u8, n: i8) -> __m128i {
    // SAFETY: SSE2 is part of x86_64.
    unsafe {
        let shifted = _mm_add_epi8(_mm_sub_epi8(x, _mm_set1_epi8(lo as i8)), _mm_set1_epi8(i8::MIN));
        _mm_cmplt_epi8(shifted, _mm_set1_epi8(i8::MIN + n))
    }
}

/// 0xff where x is an ASCII letter of either case.
#[inline(always)]
pub fn letter(x: __m128i) -> __m128i {
    in_range(or(x, splat(0x20)), b'a', 26)
}

/// 0xff where x is `b`.
#[inline(always)]
pub fn eq(x: __m128i, b: u8) -> __m128i {
    // SAFETY: SSE2 is part of x86_64.
    unsafe { _mm_cmpeq_epi8(x, splat(b)) }
}

#[inline(always)]
pub fn or(a: __m128i, b: __m128i) -> __m128i {
    // SAFETY: SSE2 is part of x86_64.
    unsafe { _mm_or_si128(a, b) }
}

#[inline(always)]
fn splat(b: u8) -> __m128i {
    // SAFETY: SSE2 is part of x86_64.
    unsafe { _mm_set1_epi8(b as i8) }
}
