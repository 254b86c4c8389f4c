//! Fuzzes the value parsers behind the demo's command-line flags (the `Cli` type itself
//! lives in the binary's main.rs, out of reach): `--target`, `--threshold`, the
//! duration flags, `--latency` and `--failure-ratio`. Each must answer Ok or a clean
//! error, never panic, and agree with the rule it documents.

#![no_main]

use failgate_demo::scenario::{parse_positive_duration, parse_target, parse_threshold};
use failgate_demo::service::{parse_delay, Ratio, MAX_DELAY};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|s: &str| {
    // --threshold: a whole number from 1.
    match parse_threshold(s) {
        Ok(n) => {
            assert!(n >= 1);
            assert_eq!(s.trim().parse::<u32>(), Ok(n));
        }
        Err(e) => {
            assert!(!e.is_empty());
            assert!(!matches!(s.trim().parse::<u32>(), Ok(n) if n >= 1), "{s:?}");
        }
    }

    // --open-for, --pause, --timeout: humantime, above zero.
    let humantime = humantime::parse_duration(s.trim());
    match parse_positive_duration(s) {
        Ok(d) => {
            assert!(!d.is_zero());
            assert_eq!(humantime.as_ref().ok(), Some(&d));
        }
        Err(e) => {
            assert!(!e.is_empty());
            assert!(!matches!(&humantime, Ok(d) if !d.is_zero()), "{s:?}");
        }
    }

    // --latency and ?delay=: humantime, at most MAX_DELAY.
    match parse_delay(s) {
        Ok(d) => {
            assert!(d <= MAX_DELAY);
            assert_eq!(humantime.as_ref().ok(), Some(&d));
        }
        Err(e) => {
            let _ = e.to_string();
            assert!(!matches!(&humantime, Ok(d) if *d <= MAX_DELAY), "{s:?}");
        }
    }

    // --failure-ratio and ?ratio=: a number in [0, 1], which prints and reads back.
    match s.parse::<Ratio>() {
        Ok(r) => {
            assert!((0.0..=1.0).contains(&r.get()));
            assert_eq!(r.to_string().parse::<Ratio>(), Ok(r));
        }
        Err(e) => {
            let _ = e.to_string();
            assert!(
                !matches!(s.trim().parse::<f64>(), Ok(v) if (0.0..=1.0).contains(&v)),
                "{s:?}"
            );
        }
    }

    // --target: an absolute http:// URL with a host, whose own text is accepted again.
    match parse_target(s) {
        Ok(url) => {
            assert_eq!(url.scheme(), "http");
            assert!(url.host_str().is_some_and(|h| !h.is_empty()));
            assert!(parse_target(url.as_str()).is_ok(), "{s:?} -> {url}");
        }
        Err(e) => assert!(!e.is_empty()),
    }
});
