//! Configuration files' reporting keys, `totals` and `sample_errors` (features
//! `serde`, `toml`, `yaml`, `json`).
#![cfg(all(feature = "toml", feature = "yaml", feature = "json"))]

use failgate::config_file::RegistryConfig;
use failgate::{Described, Event};
use std::sync::{Arc, Mutex};

#[test]
fn totals_and_sample_errors_are_read_in_every_format() {
    let toml = "[defaults]\ntotals = true\n[breakers.p]\nsample_errors = 2";
    let yaml = "defaults: { totals: true }\nbreakers:\n  p: { sample_errors: 2 }";
    let json = r#"{"defaults": {"totals": true}, "breakers": {"p": {"sample_errors": 2}}}"#;
    let config = RegistryConfig::from_toml_str(toml).unwrap();
    assert_eq!(RegistryConfig::from_yaml_str(yaml).unwrap(), config);
    assert_eq!(RegistryConfig::from_json_str(json).unwrap(), config);
    let p = config.settings_for("p");
    assert_eq!(p.totals, Some(true), "taken from the defaults");
    assert_eq!(p.sample_errors, Some(2));
    assert_eq!(config.settings_for("other").sample_errors, None);
    let written = config.to_toml_string().unwrap();
    assert_eq!(RegistryConfig::from_toml_str(&written).unwrap(), config);

    // `totals = true` keeps totals on a breaker with no observer.
    let plain = config.builder_for("p").build().unwrap();
    let _ = plain.call(|| Err::<(), _>("boom"));
    let totals = plain.snapshot().totals.expect("totals are kept");
    assert_eq!(totals.failures, 1);
    let off = RegistryConfig::from_toml_str("[defaults]\ntotals = false")
        .unwrap()
        .builder_for("q")
        .observer(|_: &Event<'_>| {})
        .build()
        .unwrap();
    assert_eq!(
        off.snapshot().totals,
        None,
        "false: not even with an observer"
    );

    // `sample_errors = 2`: one failure's error in two reaches the observer.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let into = seen.clone();
    let b = config
        .builder_for("p")
        .consecutive_failures(100)
        .with_classifier(Described(failgate::DefaultClassifier))
        .observer(move |e: &Event<'_>| {
            if matches!(e.kind, failgate::EventKind::Failure { .. }) {
                into.lock().unwrap().push(e.error.map(|e| e.to_string()));
            }
        })
        .build()
        .unwrap();
    for i in 0..4 {
        let _ = b.call(|| Err::<(), _>(format!("refused #{i}")));
    }
    let text = |s: &str| Some(s.to_owned());
    assert_eq!(
        *seen.lock().unwrap(),
        [text("refused #0"), None, text("refused #2"), None]
    );
}

#[test]
fn bad_totals_and_sample_errors_name_their_path() {
    let range = "is not in 0..=4294967295";
    for (toml, yaml, json, path, message) in [
        (
            "[breakers.p]\ntotals = \"yes\"",
            "breakers: { p: { totals: yes please } }",
            r#"{"breakers": {"p": {"totals": "yes"}}}"#,
            "breakers.p.totals",
            None::<String>,
        ),
        (
            "[defaults]\ntotals = 1",
            "defaults: { totals: 1 }",
            r#"{"defaults": {"totals": 1}}"#,
            "defaults.totals",
            None,
        ),
        (
            "[breakers.p]\nsample_errors = \"two\"",
            "breakers: { p: { sample_errors: two } }",
            r#"{"breakers": {"p": {"sample_errors": "two"}}}"#,
            "breakers.p.sample_errors",
            Some("expected a whole number from 0 to 4294967295".to_owned()),
        ),
        (
            "[breakers.p]\nsample_errors = 1.5",
            "breakers: { p: { sample_errors: 1.5 } }",
            r#"{"breakers": {"p": {"sample_errors": 1.5}}}"#,
            "breakers.p.sample_errors",
            Some("expected a whole number from 0 to 4294967295".to_owned()),
        ),
        (
            "[defaults]\nsample_errors = -1",
            "defaults: { sample_errors: -1 }",
            r#"{"defaults": {"sample_errors": -1}}"#,
            "defaults.sample_errors",
            Some(format!("-1 {range}")),
        ),
        (
            "[breakers.p]\nsample_errors = 4294967296",
            "breakers: { p: { sample_errors: 4294967296 } }",
            r#"{"breakers": {"p": {"sample_errors": 4294967296}}}"#,
            "breakers.p.sample_errors",
            Some(format!("4294967296 {range}")),
        ),
    ] {
        for e in [
            RegistryConfig::from_toml_str(toml).unwrap_err(),
            RegistryConfig::from_yaml_str(yaml).unwrap_err(),
            RegistryConfig::from_json_str(json).unwrap_err(),
        ] {
            assert_eq!(e.path(), path, "{e}");
            assert!(e.to_string().starts_with(&format!("{path}: ")), "{e}");
            if let Some(message) = &message {
                assert!(e.message().contains(message.as_str()), "{e}");
            }
        }
    }
    // The limits themselves are accepted.
    for n in [0u64, 1, u64::from(u32::MAX)] {
        let text = format!("[breakers.p]\nsample_errors = {n}");
        let config = RegistryConfig::from_toml_str(&text).unwrap();
        assert_eq!(
            config.settings_for("p").sample_errors.map(u64::from),
            Some(n)
        );
    }
}
