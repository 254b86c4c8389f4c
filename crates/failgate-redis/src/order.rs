//! An operator's order to the whole fleet (the script's docs, in `script.rs`, say how
//! the script obeys it): what the mirror keeps until a batch carries it, and the text
//! the script reads. A leaf below the script and the mirror.

/// One order, as the `order` argument of the script carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// Open for this many milliseconds of server time (or until a longer stored
    /// Retry-After hint), then half-open lazily as after a trip.
    Open(u64),
    HalfOpen,
    Close,
    Reset,
    ForcedOpen,
    Disabled,
    CountOnly,
}

/// The largest wait an `open` order carries: failgate's `MAX_DURATION` in whole
/// milliseconds fits in the 61 bits the packed form leaves it.
const MS_SHIFT: u32 = 3;

impl Order {
    /// The script's text for it: `open:<ms>`, `half_open`, `close`, `reset`,
    /// `forced_open`, `disabled`, `count_only`.
    pub(crate) fn encode(self) -> String {
        match self {
            Order::Open(ms) => format!("open:{ms}"),
            other => other.word().to_owned(),
        }
    }

    fn word(self) -> &'static str {
        match self {
            Order::Open(_) => "open",
            Order::HalfOpen => "half_open",
            Order::Close => "close",
            Order::Reset => "reset",
            Order::ForcedOpen => "forced_open",
            Order::Disabled => "disabled",
            Order::CountOnly => "count_only",
        }
    }

    /// Packed in one word for the mirror's pending slot (0: none).
    pub(crate) fn pack(order: Option<Order>) -> u64 {
        let (tag, ms) = match order {
            None => (0, 0),
            Some(Order::Open(ms)) => (1, ms),
            Some(Order::HalfOpen) => (2, 0),
            Some(Order::Close) => (3, 0),
            Some(Order::Reset) => (4, 0),
            Some(Order::ForcedOpen) => (5, 0),
            Some(Order::Disabled) => (6, 0),
            Some(Order::CountOnly) => (7, 0),
        };
        ms.min(u64::MAX >> MS_SHIFT) << MS_SHIFT | tag
    }

    /// The inverse of [`pack`](Self::pack).
    pub(crate) fn unpack(bits: u64) -> Option<Order> {
        Some(match bits & 0b111 {
            0 => return None,
            1 => Order::Open(bits >> MS_SHIFT),
            2 => Order::HalfOpen,
            3 => Order::Close,
            4 => Order::Reset,
            5 => Order::ForcedOpen,
            6 => Order::Disabled,
            _ => Order::CountOnly,
        })
    }

    /// Obeys the order on `local`, the fallback breaker (which decides while Redis is
    /// unreachable). `open` waits were checked by the caller.
    pub(crate) fn apply_local(self, local: &failgate::CircuitBreaker) {
        match self {
            Order::Open(ms) => {
                let _ = local.open_for(std::time::Duration::from_millis(ms));
            }
            Order::HalfOpen => local.half_open(),
            Order::Close => local.close(),
            Order::Reset => local.reset(),
            Order::ForcedOpen => local.force_open(),
            Order::Disabled => local.disable(),
            Order::CountOnly => local.count_only(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_pack_and_encode() {
        let all = [
            Order::Open(0),
            Order::Open(1_500),
            Order::HalfOpen,
            Order::Close,
            Order::Reset,
            Order::ForcedOpen,
            Order::Disabled,
            Order::CountOnly,
        ];
        for o in all {
            assert_eq!(Order::unpack(Order::pack(Some(o))), Some(o));
        }
        assert_eq!(Order::unpack(Order::pack(None)), None);
        assert_eq!(Order::Open(1_500).encode(), "open:1500");
        assert_eq!(Order::CountOnly.encode(), "count_only");
        let max_ms = failgate::MAX_DURATION.as_millis() as u64;
        assert_eq!(
            Order::unpack(Order::pack(Some(Order::Open(max_ms)))),
            Some(Order::Open(max_ms))
        );
    }
}
