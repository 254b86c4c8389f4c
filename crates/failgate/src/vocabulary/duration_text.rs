//! Durations written for people in a reason's text (`5m`, `1h 30m`, `250ms`): the
//! notation of humantime, which the core does not depend on by default.

use std::fmt;
use std::time::Duration;

/// Writes `d` for people, in its largest units: `5m`, `1h 30m`, `250ms`, `0s`.
/// (The core has no humantime by default; this is the same notation, to the
/// microsecond, for a reason's text.)
pub(super) fn write_duration(f: &mut fmt::Formatter<'_>, d: Duration) -> fmt::Result {
    const UNITS: [(&str, u64); 6] = [
        ("d", 86_400_000_000),
        ("h", 3_600_000_000),
        ("m", 60_000_000),
        ("s", 1_000_000),
        ("ms", 1_000),
        ("us", 1),
    ];
    let mut left = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    if left == 0 {
        return f.write_str(if d.is_zero() { "0s" } else { "<1us" });
    }
    let mut first = true;
    for (unit, size) in UNITS {
        let n = left / size;
        if n > 0 {
            if !first {
                f.write_str(" ")?;
            }
            write!(f, "{n}{unit}")?;
            left %= size;
            first = false;
        }
    }
    Ok(())
}
