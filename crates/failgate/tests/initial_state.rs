//! A starting state chosen at build time (`Builder::initial_state`) and in
//! configuration files (`initial_state = "forced_open"`).

use failgate::{CircuitBreaker, Error, Event, EventKind, ManualClock, State};
use std::sync::{Arc, Mutex};

fn built_in(state: State) -> (CircuitBreaker, Arc<Mutex<Vec<EventKind>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let b = CircuitBreaker::builder()
        .consecutive_failures(1)
        .clock(ManualClock::new())
        .initial_state(state)
        .observer(move |e: &Event<'_>| sink.lock().unwrap().push(e.kind))
        .build()
        .unwrap();
    (b, log)
}

#[test]
fn a_breaker_built_forced_open_reports_it_at_once_without_an_event_and_reset_closes_it() {
    let (b, log) = built_in(State::ForcedOpen);
    let first = b.snapshot();
    assert_eq!((first.state, first.generation), (State::ForcedOpen, 0));
    assert!(log.lock().unwrap().is_empty(), "no transition at build");
    match b.call(|| Ok::<_, ()>(())) {
        Err(Error::Rejected(r)) => {
            assert_eq!(r.state(), State::ForcedOpen);
            assert_eq!(r.retry_after(), None);
        }
        other => panic!("{other:?}"),
    }
    b.reset();
    assert_eq!(b.state(), State::Closed);
    b.call(|| Ok::<_, ()>(())).unwrap();
}

#[test]
fn a_breaker_built_disabled_or_count_only_admits_everything_and_never_trips() {
    let (b, _) = built_in(State::Disabled);
    for _ in 0..10 {
        assert_eq!(b.call(|| Err::<(), _>(1)), Err(Error::Inner(1)));
    }
    assert_eq!(
        (b.state(), b.snapshot().consecutive_failures),
        (State::Disabled, 0)
    );

    let (b, log) = built_in(State::CountOnly);
    for _ in 0..10 {
        let _ = b.call(|| Err::<(), _>(()));
    }
    let s = b.snapshot();
    assert_eq!((s.state, s.consecutive_failures), (State::CountOnly, 10));
    assert!(!log
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, EventKind::StateChange { .. })));
    b.reset();
    let _ = b.call(|| Err::<(), _>(()));
    assert_eq!(b.state(), State::Open, "closed by reset, it trips as usual");
}

#[test]
fn closed_is_the_default_initial_state() {
    let (b, _) = built_in(State::Closed);
    assert_eq!(b.snapshot().state, State::Closed);
    let plain = CircuitBreaker::builder().build().unwrap();
    assert_eq!(plain.snapshot().state, State::Closed);
}

#[test]
fn open_or_half_open_initial_states_are_config_errors_naming_initial_state() {
    for state in [State::Open, State::HalfOpen] {
        let e = CircuitBreaker::builder()
            .initial_state(state)
            .build()
            .unwrap_err();
        assert_eq!(e.field(), "initial_state");
        // In the spelling a user writes (config files, Python), not the Rust variant.
        assert_eq!(e.value(), format!("{:?}", state.as_str()));
        assert!(e.to_string().contains("initial_state"), "{e}");
    }
}

#[test]
fn a_builder_shows_its_initial_state_when_debugged() {
    let b = CircuitBreaker::builder().initial_state(State::CountOnly);
    let shown = format!("{b:?}");
    assert!(shown.contains("initial_state: CountOnly"), "{shown}");
}

#[cfg(all(feature = "toml", feature = "yaml", feature = "json"))]
mod files {
    use failgate::config_file::RegistryConfig;
    use failgate::State;

    #[test]
    fn initial_state_in_files_sets_the_starting_state_in_every_format() {
        let toml = "[defaults]\ninitial_state = \"count_only\"\n\n[breakers.payments]\ninitial_state = \"forced_open\"\n";
        let yaml = "defaults: { initial_state: count_only }\nbreakers:\n  payments: { initial_state: forced_open }\n";
        let json = r#"{"defaults": {"initial_state": "count_only"},
            "breakers": {"payments": {"initial_state": "forced_open"}}}"#;
        let config = RegistryConfig::from_toml_str(toml).unwrap();
        assert_eq!(RegistryConfig::from_yaml_str(yaml).unwrap(), config);
        assert_eq!(RegistryConfig::from_json_str(json).unwrap(), config);
        let written = config.to_toml_string().unwrap();
        assert!(
            written.contains("initial_state = \"forced_open\""),
            "{written}"
        );
        assert_eq!(RegistryConfig::from_toml_str(&written).unwrap(), config);
        let payments = config.builder_for("payments").build().unwrap();
        assert_eq!(payments.snapshot().state, State::ForcedOpen);
        let other = config.builder_for("search").build().unwrap();
        assert_eq!(other.snapshot().state, State::CountOnly);
    }

    #[test]
    fn a_bad_initial_state_in_a_file_names_its_path() {
        for (value, why) in [("sideways", "is not a state"), ("open", "must be closed")] {
            let toml = format!("[breakers.payments]\ninitial_state = \"{value}\"\n");
            let yaml = format!("breakers:\n  payments:\n    initial_state: {value}\n");
            let json = format!(r#"{{"breakers": {{"payments": {{"initial_state": "{value}"}}}}}}"#);
            for e in [
                RegistryConfig::from_toml_str(&toml).unwrap_err(),
                RegistryConfig::from_yaml_str(&yaml).unwrap_err(),
                RegistryConfig::from_json_str(&json).unwrap_err(),
            ] {
                assert_eq!(e.path(), "breakers.payments.initial_state", "{e}");
                assert!(e.message().contains(why), "{e}");
            }
        }
        let e = RegistryConfig::from_toml_str("[defaults]\ninitial_state = 3\n").unwrap_err();
        assert_eq!(e.path(), "defaults.initial_state", "{e}");
    }

    #[cfg(feature = "registry")]
    #[test]
    fn a_registry_from_a_file_builds_its_breakers_in_their_initial_state() {
        let config =
            RegistryConfig::from_toml_str("[breakers.payments]\ninitial_state = \"forced_open\"\n")
                .unwrap();
        let registry = config.registry().unwrap();
        assert_eq!(registry.snapshot()[0].state, State::ForcedOpen);
        registry.reset("payments").unwrap();
        assert_eq!(registry.get("payments").unwrap().state(), State::Closed);
    }
}
