//! `x-amzn-RequestId`: a unique id per request, as 32 upper-case hex digits.
//!
//! Ids must be unique, not unpredictable, so each thread draws one random 128-bit seed (from
//! the operating system, through `uuid`) and then counts: a Weyl sequence mixed by two rounds of
//! splitmix64. That avoids a `getrandom` system call per request (about 1.5% of a GetItem's
//! server CPU).

use std::cell::Cell;

thread_local! {
    /// This thread's (seed, counter).
    static STATE: Cell<(u128, u64)> = Cell::new((uuid::Uuid::new_v4().as_u128(), 0));
}

/// A new request id.
pub fn next() -> String {
    let (seed, n) = STATE.with(|s| {
        let (seed, n) = s.get();
        s.set((seed, n.wrapping_add(1)));
        (seed, n)
    });
    let high = mix((seed >> 64) as u64 ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let low = mix(seed as u64 ^ mix(n));
    format!("{high:016X}{low:016X}")
}

/// splitmix64's output function: a bijection on u64 that spreads every input bit.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_hex_digits_and_do_not_repeat() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| next()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids.iter().all(|id| id.len() == 32
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))));
    }
}
