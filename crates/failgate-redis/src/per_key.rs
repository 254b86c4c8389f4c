//! Fleet breakers per key (feature `tower`): [`FleetBuilder`] is a
//! [`Template`], so the core's per-key map, its tower layer and `failgate-reqwest`'s
//! per-host mode hold one fleet-wide breaker per key, bounded and evicted as the
//! local ones are.
//!
//! ```no_run
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use failgate::tower::per_key::BreakerMap;
//! use failgate_redis::FleetBreaker;
//!
//! let template = FleetBreaker::builder("upstream").redis("redis://127.0.0.1:6379");
//! let hosts = BreakerMap::new(template, 1_000)?; // one shared breaker per host
//! let breaker = hosts.get(&"api.example.com:443".to_string());
//! assert_eq!(breaker.name(), "upstream.api.example.com%3A443");
//! # Ok(()) }
//! ```
//!
//! Every instance names a key's breaker alike, so the fleet shares it: the template's
//! name, a dot, and the key with the characters a Redis key name may not hold (`:`,
//! braces, `%`, spaces and control characters) percent-encoded. A key too long for
//! that is cut, and ends with a hash of the whole key instead (FNV-1a, stable across
//! builds and platforms). Each key's breaker is a fleet breaker of its own, synced by
//! the process's shared fleet client: a thousand hosts still take one connection and
//! one round trip per flush interval.

use crate::settings::FleetConfigError;
use crate::{start, FleetBreaker, FleetBuilder};
use failgate::tower::per_key::Template;
use std::fmt::Write as _;
use std::time::Duration;

/// The longest breaker name the settings accept.
const MAX_NAME: usize = 200;
/// The longest template name: the rest of [`MAX_NAME`] is the key's.
const MAX_TEMPLATE_NAME: usize = 100;

impl<C: Clone + Send + Sync + 'static> Template for FleetBuilder<C> {
    type Breaker = FleetBreaker<C>;
    type Error = FleetConfigError;

    fn check(&mut self) -> Result<Duration, FleetConfigError> {
        let s = &mut self.settings;
        s.validate()?;
        s.local_breaker(None)?;
        if s.name.len() > MAX_TEMPLATE_NAME {
            return Err(FleetConfigError::Invalid {
                field: "name",
                value: s.name.clone(),
                problem:
                    "must be at most 100 characters in a per-key template (the key takes the rest)",
            });
        }
        crate::client::check(s)?;
        Ok(s.open_for.max(s.window))
    }

    fn build_for(&self, key: &str) -> FleetBreaker<C> {
        let mut settings = self.settings.clone();
        settings.name = key_name(&self.settings.name, key);
        match start::start(&settings) {
            Ok(core) => FleetBreaker::from_core(core, self.classifier.clone()),
            // Unreachable: `check` validated these settings, the URL and the runtime,
            // and `key_name` makes a valid name.
            Err(e) => unreachable!("a checked fleet template failed to start: {e}"),
        }
    }

    fn now(&self) -> u64 {
        self.settings.clock.now_nanos()
    }

    fn handles(breaker: &FleetBreaker<C>) -> usize {
        breaker.handles()
    }

    fn closed_failing(breaker: &FleetBreaker<C>) -> Option<bool> {
        breaker.closed_failing()
    }
}

/// The fleet-wide name of `key`'s breaker: the same on every instance, distinct for
/// distinct keys, and a valid breaker name (see the module docs).
fn key_name(template: &str, key: &str) -> String {
    let mut name = format!("{template}.");
    for c in key.chars() {
        if matches!(c, ':' | '{' | '}' | '%') || c.is_whitespace() || c.is_control() {
            let mut bytes = [0; 4];
            for b in c.encode_utf8(&mut bytes).bytes() {
                let _ = write!(name, "%{b:02X}");
            }
        } else {
            name.push(c);
        }
    }
    if name.len() <= MAX_NAME {
        return name;
    }
    let mut cut = MAX_NAME - 17; // room for "~" and 16 hex digits
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    name.truncate(cut);
    let _ = write!(name, "~{:016x}", fnv1a(key.as_bytes()));
    name
}

/// 64-bit FNV-1a: a hash every build of every instance computes alike.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_are_valid_distinct_and_stable() {
        assert_eq!(
            key_name("up", "api.example.com:443"),
            "up.api.example.com%3A443"
        );
        assert_eq!(key_name("up", "a{b}%c d"), "up.a%7Bb%7D%25c%20d");
        // `%` is encoded too, so an encoded key never equals another key's name.
        assert_ne!(key_name("up", "a:b"), key_name("up", "a%3Ab"));
        let long = "h".repeat(300);
        let name = key_name("up", &long);
        assert_eq!(name.len(), MAX_NAME);
        assert_ne!(
            name,
            key_name("up", &format!("{long}x")),
            "cut keys keep apart"
        );
        assert_eq!(name, key_name("up", &long), "the same on every instance");
        let mut settings = crate::settings::Settings::new(&name);
        settings.url = Some("redis://127.0.0.1".into());
        settings
            .validate()
            .expect("a key's name is a valid breaker name");
        // The FNV-1a reference value of "a".
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
