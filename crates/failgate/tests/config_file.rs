//! Configuration files (features `serde`, `toml`, `yaml`, `json`).
#![cfg(all(feature = "toml", feature = "yaml", feature = "json"))]

use failgate::config_file::{FileError, RegistryConfig};
use failgate::State;
use std::time::Duration;

const FULL: &str = r#"
[defaults]
consecutive_failures = 5
open_for = "60s"
half_open_permits = 2

[breakers.payments]
failure_rate = 0.5
minimum_calls = 20
window = { time = "1m", buckets = 12 }
slow_calls = { threshold = "2s", rate = 0.8 }
backoff = { base = "1s", max = "1m 30s", jitter = 0.2 }
half_open_timeout = "10s"
honor_retry_after = true

[breakers.search]
window = { count = 50 }
failure_rate = 0.25
"#;

fn err_toml(text: &str) -> FileError {
    RegistryConfig::from_toml_str(text).expect_err("should be refused")
}

#[test]
fn every_kind_of_bad_value_names_its_path() {
    for (text, path, message) in [
        (
            "[breakers.p]\nfailure_rate = 1.5",
            "breakers.p.failure_rate",
            "1.5 is not in (0, 1]",
        ),
        (
            "[defaults]\nconsecutive_failures = 0",
            "defaults.consecutive_failures",
            "0 must be at least 1",
        ),
        (
            "[breakers.p]\nhalf_open_permits = 5000",
            "breakers.p.half_open_permits",
            "5000 must be at most 1023",
        ),
        (
            "[breakers.p]\nwindow = { count = 0 }\nfailure_rate = 0.5",
            "breakers.p.window.count",
            "0 must be at least 1",
        ),
        (
            "[breakers.p]\nwindow = { count = 10 }\nfailure_rate = 0.5\nminimum_calls = 11",
            "breakers.p.minimum_calls",
            "11 must be at most 10 (the count window holds 10)",
        ),
        (
            "[breakers.p]\nslow_calls = { threshold = \"0s\", rate = 0.5 }",
            "breakers.p.slow_calls.threshold",
            "0ns must be longer than zero",
        ),
        (
            "[breakers.p]\nbackoff = { base = \"10s\", max = \"1s\" }",
            "breakers.p.backoff.max",
            "1s is below the base wait 10s",
        ),
        (
            "[breakers.p]\nbackoff = { base = \"1s\", max = \"2s\", jitter = 1.0 }",
            "breakers.p.backoff.jitter",
            "1.0 is not in [0, 1)",
        ),
        (
            "[breakers.p]\nopen_for = \"0s\"",
            "breakers.p.open_for",
            "0ns must be longer than zero",
        ),
        (
            "[breakers.p]\nmax_retry_after = \"0s\"",
            "breakers.p.max_retry_after",
            "0ns must be longer than zero",
        ),
    ] {
        let e = err_toml(text);
        assert_eq!((e.path(), e.message()), (path, message), "{text}");
        assert_eq!(e.to_string(), format!("{path}: {message}"));
    }
}

#[test]
fn shapes_and_types_are_checked_with_paths() {
    let e = err_toml("[breakers.p]\nopen_for = \"soon\"");
    assert_eq!(e.path(), "breakers.p.open_for");
    assert!(e.message().contains("\"soon\" is not a duration"), "{e}");
    let e = err_toml("[breakers.p]\nfailure_rate = \"half\"");
    assert_eq!(e.path(), "breakers.p.failure_rate");
    let e = err_toml("[breakers.p]\nwindow = { count = 5, time = \"1s\" }");
    assert_eq!(
        (e.path(), e.message()),
        ("breakers.p.window", "has both `count` and `time`: pick one")
    );
    let e = err_toml("[breakers.p]\nwindow = { buckets = 5 }");
    assert_eq!(
        (e.path(), e.message()),
        ("breakers.p.window", "needs `count` or `time`")
    );
    let e = err_toml("[breakers.p]\nwindow = { count = 5, buckets = 5 }");
    assert_eq!(e.path(), "breakers.p.window.buckets");
    let e = err_toml("[breakers.p]\nopen_for = \"1s\"\nbackoff = { base = \"1s\", max = \"2s\" }");
    assert_eq!(
        (e.path(), e.message()),
        ("breakers.p", "has both `open_for` and `backoff`: pick one")
    );
    let e = err_toml("[breakers.p\n");
    assert_eq!(e.path(), "", "a syntax error is about the file: {e}");
}

#[test]
fn unknown_keys_are_refused_everywhere() {
    for (text, path) in [
        ("colour = 1", "colour"),
        ("[defaults]\nthreshold = 2", "defaults.threshold"),
        ("[breakers.p]\nfailure_rat = 0.5", "breakers.p.failure_rat"),
        (
            "[breakers.p]\nwindow = { size = 5 }",
            "breakers.p.window.size",
        ),
        (
            "[breakers.p]\nslow_calls = { threshold = \"1s\", rate = 0.5, extra = 1 }",
            "breakers.p.slow_calls.extra",
        ),
    ] {
        let e = err_toml(text);
        assert_eq!(e.path(), path, "{text}: {e}");
        assert!(e.message().contains("unknown field"), "{text}: {e}");
    }
    let e =
        RegistryConfig::from_json_str(r#"{"breakers": {"p": {"open_fro": "1s"}}}"#).unwrap_err();
    assert_eq!(e.path(), "breakers.p.open_fro", "{e}");
    let e = RegistryConfig::from_yaml_str("breakers:\n  p:\n    open_fro: 1s\n").unwrap_err();
    assert_eq!(e.path(), "breakers.p.open_fro", "{e}");
}

#[test]
fn toml_round_trips_and_the_three_formats_agree() {
    let config = RegistryConfig::from_toml_str(FULL).unwrap();
    let written = config.to_toml_string().unwrap();
    assert_eq!(
        RegistryConfig::from_toml_str(&written).unwrap(),
        config,
        "{written}"
    );

    let yaml = r#"
defaults: { consecutive_failures: 5, open_for: 60s, half_open_permits: 2 }
breakers:
  payments:
    failure_rate: 0.5
    minimum_calls: 20
    window: { time: 1m, buckets: 12 }
    slow_calls: { threshold: 2s, rate: 0.8 }
    backoff: { base: 1s, max: 1m 30s, jitter: 0.2 }
    half_open_timeout: 10s
    honor_retry_after: true
  search: { window: { count: 50 }, failure_rate: 0.25 }
"#;
    assert_eq!(RegistryConfig::from_yaml_str(yaml).unwrap(), config);
    let json = r#"{
      "defaults": {"consecutive_failures": 5, "open_for": "60s", "half_open_permits": 2},
      "breakers": {
        "payments": {"failure_rate": 0.5, "minimum_calls": 20,
          "window": {"time": "1m", "buckets": 12},
          "slow_calls": {"threshold": "2s", "rate": 0.8},
          "backoff": {"base": "1s", "max": "1m 30s", "jitter": 0.2},
          "half_open_timeout": "10s", "honor_retry_after": true},
        "search": {"window": {"count": 50}, "failure_rate": 0.25}
      }
    }"#;
    assert_eq!(RegistryConfig::from_json_str(json).unwrap(), config);
}

#[test]
fn breakers_take_their_own_settings_over_the_defaults() {
    let config = RegistryConfig::from_toml_str(FULL).unwrap();
    let payments = config.settings_for("payments");
    assert_eq!(payments.consecutive_failures, Some(5), "from the defaults");
    assert_eq!(
        payments.open_for, None,
        "its own backoff replaces the default open_for"
    );
    assert_eq!(payments.half_open_permits, Some(2));
    let other = config.settings_for("anything else");
    assert_eq!(other, config.defaults);

    let registry = config.registry().unwrap();
    let search = registry.get_or_create("search").unwrap();
    for _ in 0..4 {
        let _ = search.call(|| Err::<(), ()>(()));
    }
    assert_eq!(
        search.state(),
        State::Closed,
        "failure rate judged from 10 calls"
    );
    let fallback = registry.get_or_create("other").unwrap();
    for _ in 0..5 {
        let _ = fallback.call(|| Err::<(), ()>(()));
    }
    assert_eq!(
        fallback.state(),
        State::Open,
        "the defaults' 5 consecutive failures"
    );
    let wait = fallback.snapshot().retry_after.unwrap();
    assert!(
        wait <= Duration::from_secs(60) && wait > Duration::from_secs(59),
        "{wait:?}"
    );
}

#[test]
fn files_are_read_by_extension() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let toml = dir.join("breakers.toml");
    std::fs::write(&toml, FULL).unwrap();
    assert!(RegistryConfig::from_path(&toml).is_ok());
    let ini = dir.join("breakers.ini");
    std::fs::write(&ini, FULL).unwrap();
    let e = RegistryConfig::from_path(&ini).unwrap_err();
    assert!(e.message().contains("unsupported format"), "{e}");
    let e = RegistryConfig::from_path(dir.join("missing.toml")).unwrap_err();
    assert!(e.message().contains("cannot read"), "{e}");
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    /// Keys and values that come close to valid files, so the checks past the parser
    /// are reached too.
    fn near_valid_toml() -> impl Strategy<Value = String> {
        let key = prop::sample::select(vec![
            "consecutive_failures",
            "failure_rate",
            "minimum_calls",
            "open_for",
            "half_open_permits",
            "half_open_timeout",
            "honor_retry_after",
            "window",
            "slow_calls",
            "backoff",
            "bogus",
        ]);
        let value = prop::sample::select(vec![
            "0",
            "1",
            "-1",
            "1.5",
            "0.5",
            "nan",
            "inf",
            "4294967296",
            "\"60s\"",
            "\"0s\"",
            "\"soon\"",
            "\"1m 30s\"",
            "true",
            "{ count = 10 }",
            "{ time = \"1s\", buckets = 0 }",
            "{ threshold = \"1s\", rate = 2 }",
            "{ base = \"1s\", max = \"1ms\" }",
            "[]",
            "{}",
        ]);
        prop::collection::vec((any::<bool>(), key, value), 0..8).prop_map(|entries| {
            let mut text = String::new();
            for (defaults, key, value) in entries {
                let table = if defaults {
                    "[defaults]"
                } else {
                    "[breakers.x]"
                };
                text.push_str(&format!("{table}\n{key} = {value}\n"));
            }
            text
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn arbitrary_text_is_a_config_or_an_error_never_a_panic(text in ".{0,200}") {
            let _ = RegistryConfig::from_toml_str(&text);
            let _ = RegistryConfig::from_yaml_str(&text);
            let _ = RegistryConfig::from_json_str(&text);
        }

        #[test]
        fn near_valid_files_are_a_config_or_an_error_naming_a_path(text in near_valid_toml()) {
            match RegistryConfig::from_toml_str(&text) {
                // Duplicate tables are a syntax error about the whole file; every other
                // refusal names where it is.
                Err(e) => prop_assert!(!e.path().is_empty() || e.message().contains("TOML parse error"), "{e}"),
                Ok(config) => {
                    // What was accepted builds.
                    prop_assert!(config.builder_for("x").build().is_ok());
                }
            }
        }
    }
}

#[cfg(feature = "registry")]
#[test]
fn breakers_named_in_a_file_exist_once_it_is_loaded() {
    let registry = RegistryConfig::from_toml_str(FULL)
        .unwrap()
        .registry()
        .unwrap();
    assert_eq!(registry.names(), ["payments", "search"]);
    let payments = registry
        .get("payments")
        .expect("payments exists before first use");
    registry.force_open("payments").unwrap();
    assert_eq!(payments.state(), State::ForcedOpen);
    let same = registry.get_or_create("payments").unwrap();
    assert!(
        same.same_breaker(&payments),
        "first use finds the loaded breaker"
    );
    assert_eq!(
        registry.snapshot().len(),
        2,
        "names not in the file are still made on first use"
    );
    assert!(registry.get("other").is_none());
}

#[test]
fn half_open_failure_rate_and_forget_failures_after_are_read_in_every_format() {
    let toml = "[defaults]\nforget_failures_after = \"30s\"\n\
                [breakers.p]\nhalf_open_failure_rate = 0.5\nhalf_open_permits = 10";
    let yaml = "defaults: { forget_failures_after: 30s }\n\
                breakers:\n  p: { half_open_failure_rate: 0.5, half_open_permits: 10 }";
    let json = r#"{"defaults": {"forget_failures_after": "30s"},
        "breakers": {"p": {"half_open_failure_rate": 0.5, "half_open_permits": 10}}}"#;
    let config = RegistryConfig::from_toml_str(toml).unwrap();
    assert_eq!(RegistryConfig::from_yaml_str(yaml).unwrap(), config);
    assert_eq!(RegistryConfig::from_json_str(json).unwrap(), config);
    let p = config.settings_for("p");
    assert_eq!(p.half_open_failure_rate, Some(0.5));
    assert_eq!(
        p.forget_failures_after.map(|d| d.0),
        Some(Duration::from_secs(30)),
        "taken from the defaults"
    );
    let written = config.to_toml_string().unwrap();
    assert_eq!(RegistryConfig::from_toml_str(&written).unwrap(), config);
    // The settings reach the breaker: 5 failed probes of 10 reopen it.
    let clock = failgate::ManualClock::new();
    let b = config
        .builder_for("p")
        .consecutive_failures(1)
        .clock(clock.clone())
        .build()
        .unwrap();
    let _ = b.call(|| Err::<(), ()>(()));
    clock.advance(Duration::from_secs(60));
    let probes: Vec<_> = (0..10).map(|_| b.try_acquire_owned().unwrap()).collect();
    for (i, p) in probes.into_iter().enumerate() {
        p.record(if i < 4 {
            failgate::Outcome::Failure
        } else {
            failgate::Outcome::Success
        });
    }
    assert_eq!(b.state(), State::Closed, "4 failures of 10 stay below half");
}

#[test]
fn bad_half_open_failure_rate_and_forget_failures_after_name_their_path() {
    for (toml, yaml, json, path, message) in [
        (
            "[breakers.p]\nhalf_open_failure_rate = 1.5",
            "breakers: { p: { half_open_failure_rate: 1.5 } }",
            r#"{"breakers": {"p": {"half_open_failure_rate": 1.5}}}"#,
            "breakers.p.half_open_failure_rate",
            Some("1.5 is not in (0, 1]"),
        ),
        (
            "[defaults]\nforget_failures_after = \"0s\"",
            "defaults: { forget_failures_after: 0s }",
            r#"{"defaults": {"forget_failures_after": "0s"}}"#,
            "defaults.forget_failures_after",
            Some("0ns must be longer than zero"),
        ),
        (
            "[breakers.p]\nfailure_rate = 0.5\nforget_failures_after = \"1s\"",
            "breakers: { p: { failure_rate: 0.5, forget_failures_after: 1s } }",
            r#"{"breakers": {"p": {"failure_rate": 0.5, "forget_failures_after": "1s"}}}"#,
            "breakers.p.forget_failures_after",
            Some("1s needs consecutive_failures (failure_rate alone turns them off)"),
        ),
        (
            "[breakers.p]\nforget_failures_after = \"soon\"",
            "breakers: { p: { forget_failures_after: soon } }",
            r#"{"breakers": {"p": {"forget_failures_after": "soon"}}}"#,
            "breakers.p.forget_failures_after",
            None,
        ),
        (
            "[breakers.p]\nhalf_open_failure_rate = \"half\"",
            "breakers: { p: { half_open_failure_rate: half } }",
            r#"{"breakers": {"p": {"half_open_failure_rate": "half"}}}"#,
            "breakers.p.half_open_failure_rate",
            None,
        ),
    ] {
        for e in [
            RegistryConfig::from_toml_str(toml).unwrap_err(),
            RegistryConfig::from_yaml_str(yaml).unwrap_err(),
            RegistryConfig::from_json_str(json).unwrap_err(),
        ] {
            assert_eq!(e.path(), path, "{e}");
            if let Some(message) = message {
                assert_eq!(e.message(), message, "{e}");
            }
        }
    }
}
