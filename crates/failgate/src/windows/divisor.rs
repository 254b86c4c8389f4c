//! Division by a number fixed at build time, without a hardware divide.

/// Exact division by a divisor fixed at build time, by a multiplication instead of a
/// hardware divide (which costs tens of cycles on some CPUs): the time window divides
/// on every call to find its bucket.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Divisor {
    d: u64,
    /// floor((2^64 - 1) / d): the quotient it gives is at most two short.
    m: u64,
}

impl Divisor {
    pub(crate) fn new(d: u64) -> Self {
        let d = d.max(1);
        Divisor { d, m: u64::MAX / d }
    }

    /// The divisor, `d`.
    #[inline]
    pub(crate) fn divisor(self) -> u64 {
        self.d
    }

    /// `(x / d, x % d)`.
    #[inline]
    pub(crate) fn div_rem(self, x: u64) -> (u64, u64) {
        let mut q = ((u128::from(x) * u128::from(self.m)) >> 64) as u64;
        let mut r = x - q * self.d;
        while r >= self.d {
            q += 1;
            r -= self.d;
        }
        (q, r)
    }
}

#[cfg(all(test, not(failgate_loom)))]
mod tests {
    use super::Divisor;

    #[test]
    fn divisor_matches_hardware_division() {
        let divisors = [
            1,
            2,
            3,
            7,
            10,
            1000,
            1_000_000,
            999_999_937,
            u64::MAX / 3,
            u64::MAX,
        ];
        let xs = [
            0,
            1,
            2,
            9,
            10,
            11,
            999_999,
            1_000_000,
            123_456_789_012,
            u64::MAX - 1,
            u64::MAX,
        ];
        for d in divisors {
            let div = Divisor::new(d);
            for x in xs
                .iter()
                .copied()
                .chain((0..1000).map(|i| i * 7919 + d / 2))
            {
                assert_eq!(div.div_rem(x), (x / d, x % d), "{x} / {d}");
            }
        }
    }
}
