//! Reloading a registry built from a configuration file (features `registry` and `toml`).
#![cfg(all(feature = "registry", feature = "toml"))]

use failgate::config_file::RegistryConfig;
use failgate::{CircuitBreaker, Event, EventKind, ManualClock, Registry, State};
use std::sync::{Arc, Barrier, Mutex};

const BEFORE: &str = r#"
    [defaults]
    consecutive_failures = 5
    open_for = "60s"

    [breakers.payments]
    consecutive_failures = 1

    [breakers.search]
    consecutive_failures = 2
"#;

fn config(text: &str) -> RegistryConfig {
    RegistryConfig::from_toml_str(text).unwrap()
}

/// A registry from `text` on a manual clock, and the events its breakers emit.
type Events = Arc<Mutex<Vec<(String, EventKind)>>>;

fn registry(text: &str) -> (Registry, Events) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let base = CircuitBreaker::builder()
        .clock(ManualClock::new())
        .observer(move |e: &Event<'_>| seen.lock().unwrap().push((e.name.to_owned(), e.kind)));
    (config(text).registry_with(base).unwrap(), events)
}

fn fail(breaker: &CircuitBreaker) {
    let _ = breaker.call(|| Err::<(), _>("boom"));
}

#[test]
fn reload_keeps_state_of_unchanged_breakers() {
    let (registry, events) = registry(BEFORE);
    let payments = registry.get("payments").unwrap();
    let orders = registry.get_or_create("orders").unwrap();
    fail(&payments);
    fail(&orders);
    assert_eq!(payments.state(), State::Open);
    events.lock().unwrap().clear();

    // search changes; payments and the defaults (so orders) do not.
    let report = registry
        .reload(&config(&BEFORE.replace(
            "consecutive_failures = 2",
            "consecutive_failures = 3",
        )))
        .unwrap();
    assert_eq!(report.unchanged, ["orders", "payments"]);
    assert_eq!(report.rebuilt, ["search"]);

    let after = registry.get("payments").unwrap();
    assert!(after.same_breaker(&payments), "payments was not rebuilt");
    assert_eq!(after.state(), State::Open, "and kept its state");
    let orders_after = registry.get("orders").unwrap();
    assert!(orders_after.same_breaker(&orders));
    assert_eq!(orders_after.snapshot().consecutive_failures, 1);
    let events = events.lock().unwrap();
    assert!(
        events
            .iter()
            .all(|(name, kind)| name == "search" || !matches!(kind, EventKind::Reconfigured { .. })),
        "{events:?}"
    );
}

#[test]
fn reload_rebuilds_changed_breakers_with_an_event() {
    let (registry, events) = registry(BEFORE);
    let search = registry.get("search").unwrap();
    let orders = registry.get_or_create("orders").unwrap();
    fail(&search);
    fail(&search);
    assert_eq!(search.state(), State::Open);
    events.lock().unwrap().clear();

    // search's own threshold changes, and so do the defaults orders follows.
    let text = BEFORE
        .replace("consecutive_failures = 2", "consecutive_failures = 3")
        .replace("consecutive_failures = 5", "consecutive_failures = 4");
    let report = registry.reload(&config(&text)).unwrap();
    assert_eq!(report.rebuilt, ["orders", "search"]);
    assert_eq!(report.unchanged, ["payments"]);
    assert!(report.added.is_empty() && report.removed.is_empty());

    let new_search = registry.get("search").unwrap();
    assert!(!new_search.same_breaker(&search), "search was rebuilt");
    assert_eq!(new_search.state(), State::Closed, "with fresh state");
    fail(&new_search);
    fail(&new_search);
    assert_eq!(
        new_search.state(),
        State::Closed,
        "on the new threshold of 3"
    );
    fail(&new_search);
    assert_eq!(new_search.state(), State::Open);
    assert!(!registry.get("orders").unwrap().same_breaker(&orders));
    assert_eq!(
        registry.settings_of("orders").unwrap().consecutive_failures,
        Some(4)
    );

    // The handle held before the reload is the old breaker, still working alone.
    assert_eq!(search.state(), State::Open);
    let events = events.lock().unwrap();
    let reconfigured: Vec<(&str, EventKind)> = events
        .iter()
        .filter(|(_, kind)| matches!(kind, EventKind::Reconfigured { .. }))
        .map(|(name, kind)| (name.as_str(), *kind))
        .collect();
    assert_eq!(
        reconfigured,
        [
            (
                "orders",
                EventKind::Reconfigured {
                    previous: State::Closed
                }
            ),
            (
                "search",
                EventKind::Reconfigured {
                    previous: State::Open
                }
            ),
        ]
    );
}

#[test]
fn reload_drops_removed_breakers_from_the_listing() {
    let (registry, _) = registry(BEFORE);
    let search = registry.get("search").unwrap();
    let text = BEFORE
        .replace("[breakers.search]", "")
        .replace("consecutive_failures = 2", "")
        + "\n[breakers.inventory]\nconsecutive_failures = 7\n";
    let report = registry.reload(&config(&text)).unwrap();
    assert_eq!(report.removed, ["search"]);
    assert_eq!(report.added, ["inventory"]);
    assert_eq!(registry.names(), ["inventory", "payments"]);
    assert!(registry.get("search").is_none());
    assert!(registry.force_open("search").is_err());
    let listed: Vec<String> = registry
        .snapshot()
        .iter()
        .map(|s| s.name.to_string())
        .collect();
    assert_eq!(listed, ["inventory", "payments"]);

    // A held handle keeps working on its own.
    fail(&search);
    fail(&search);
    assert_eq!(search.state(), State::Open);
    // Asked for again, the name is a new breaker on the defaults.
    let again = registry.get_or_create("search").unwrap();
    assert!(!again.same_breaker(&search));
    assert_eq!(
        registry.settings_of("search").unwrap().consecutive_failures,
        Some(5)
    );
}

#[test]
fn invalid_reload_changes_nothing() {
    let (registry, events) = registry(BEFORE);
    let payments = registry.get("payments").unwrap();
    fail(&payments);
    events.lock().unwrap().clear();
    let before = registry.snapshot();

    // Valid TOML, a good change to search, and a bad value further on.
    let mut bad = config(&BEFORE.replace("consecutive_failures = 2", "consecutive_failures = 3"));
    bad.breakers
        .get_mut("payments")
        .unwrap()
        .consecutive_failures = Some(0);
    bad.breakers.remove("search");
    bad.breakers.insert("inventory".into(), Default::default());
    let e = registry.reload(&bad).unwrap_err();
    assert_eq!(e.path(), "breakers.payments.consecutive_failures", "{e}");

    assert_eq!(registry.names(), ["payments", "search"]);
    assert!(registry.get("payments").unwrap().same_breaker(&payments));
    assert_eq!(registry.get("payments").unwrap().state(), State::Open);
    assert_eq!(
        registry.settings_of("search").unwrap().consecutive_failures,
        Some(2)
    );
    assert_eq!(registry.snapshot(), before);
    assert!(events.lock().unwrap().is_empty());
}

#[test]
fn reload_file_errors_name_the_file_and_the_key() {
    let (registry, _) = registry(BEFORE);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("breakers.toml");
    std::fs::write(
        &path,
        BEFORE.replace("consecutive_failures = 2", "failure_rate = 1.5"),
    )
    .unwrap();
    let e = registry.reload_file(&path).unwrap_err();
    let text = e.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("breakers.search.failure_rate"), "{text}");
    assert_eq!(e.file(), Some(path.as_path()));

    std::fs::write(&path, BEFORE.replace("= 2", "= 4")).unwrap();
    let report = registry.reload_file(&path).unwrap();
    assert_eq!(report.rebuilt, ["search"]);
    assert_eq!(
        registry
            .reload_file(dir.path().join("missing.toml"))
            .unwrap_err()
            .file(),
        Some(dir.path().join("missing.toml").as_path())
    );
}

#[test]
fn a_registry_not_built_from_a_file_refuses_to_reload() {
    let registry = Registry::new(CircuitBreaker::builder()).unwrap();
    let e = registry.reload(&config(BEFORE)).unwrap_err();
    assert!(
        e.to_string()
            .contains("not built from a configuration file"),
        "{e}"
    );
    assert!(registry.names().is_empty());
}

#[test]
fn reloads_racing_calls_and_each_other_are_safe() {
    let (registry, _) = registry(BEFORE);
    let configs = [
        config(BEFORE),
        config(&BEFORE.replace("= 2", "= 3")),
        config(
            &(BEFORE.replace("[breakers.search]\nconsecutive_failures = 2", "")
                + "\n[breakers.inventory]\nconsecutive_failures = 7\n"),
        ),
    ];
    let barrier = Barrier::new(6);
    std::thread::scope(|s| {
        for t in 0..2 {
            let (registry, configs, barrier) = (&registry, &configs, &barrier);
            s.spawn(move || {
                barrier.wait();
                for i in 0..200 {
                    registry.reload(&configs[(i + t) % configs.len()]).unwrap();
                }
            });
        }
        for t in 0..4 {
            let (registry, barrier) = (&registry, &barrier);
            s.spawn(move || {
                barrier.wait();
                let names = ["payments", "search", "inventory", "orders"];
                for i in 0..2000 {
                    let b = registry
                        .get_or_create(names[(i + t) % names.len()])
                        .unwrap();
                    let _ = b.call(|| if i % 3 == 0 { Err("boom") } else { Ok(()) });
                    let _ = registry.snapshot();
                }
            });
        }
    });
    // Whatever the interleaving, a last reload leaves exactly that file's breakers
    // and the ones made from the defaults, each with that file's settings.
    let last = &configs[1];
    registry.reload(last).unwrap();
    for name in registry.names() {
        assert_eq!(
            registry.settings_of(&name).unwrap(),
            last.settings_for(&name),
            "{name}"
        );
    }
    assert!(registry.names().iter().any(|n| n == "search"));
}

#[test]
fn reload_rebuilds_a_breaker_whose_totals_or_sample_errors_changed() {
    let (registry, events) = registry(BEFORE);
    fail(&registry.get("payments").unwrap());
    fail(&registry.get("search").unwrap());
    events.lock().unwrap().clear();

    let totals = BEFORE.replace(
        "consecutive_failures = 1",
        "consecutive_failures = 1\n    totals = false",
    );
    let report = registry.reload(&config(&totals)).unwrap();
    assert_eq!(report.rebuilt, ["payments"]);
    assert_eq!(report.unchanged, ["search"]);
    let payments = registry.get("payments").unwrap();
    assert_eq!(payments.state(), State::Closed, "a new breaker");
    assert_eq!(
        payments.snapshot().totals,
        None,
        "totals = false, observer or not"
    );

    let sampled = totals.replace(
        "consecutive_failures = 2",
        "consecutive_failures = 2\n    sample_errors = 3",
    );
    let report = registry.reload(&config(&sampled)).unwrap();
    assert_eq!(report.rebuilt, ["search"]);
    assert_eq!(report.unchanged, ["payments"]);
    assert_eq!(
        registry.settings_of("search").unwrap().sample_errors,
        Some(3)
    );
    let reconfigured: Vec<(String, EventKind)> = events
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, kind)| matches!(kind, EventKind::Reconfigured { .. }))
        .cloned()
        .collect();
    assert_eq!(
        reconfigured,
        [
            (
                "payments".to_owned(),
                EventKind::Reconfigured {
                    previous: State::Open
                }
            ),
            (
                "search".to_owned(),
                EventKind::Reconfigured {
                    previous: State::Closed
                }
            ),
        ]
    );

    // A bad value in a file names the file and the key, and changes nothing.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("breakers.toml");
    std::fs::write(
        &path,
        sampled.replace("sample_errors = 3", "sample_errors = -3"),
    )
    .unwrap();
    let e = registry.reload_file(&path).unwrap_err();
    assert_eq!(e.path(), "breakers.search.sample_errors", "{e}");
    assert!(
        e.to_string().starts_with(&format!(
            "{}: breakers.search.sample_errors: ",
            path.display()
        )),
        "{e}"
    );
    assert_eq!(
        registry.settings_of("search").unwrap().sample_errors,
        Some(3)
    );
}

#[test]
fn a_rebuilt_breaker_starts_in_the_initial_state_its_new_settings_name() {
    let (registry, _events) = registry(BEFORE);
    let search = registry.get("search").unwrap();
    fail(&search);
    fail(&search);
    assert_eq!(search.state(), State::Open);
    let report = registry
        .reload(&config(&BEFORE.replace(
            "consecutive_failures = 2",
            "consecutive_failures = 2\n    initial_state = \"forced_open\"",
        )))
        .unwrap();
    assert_eq!(report.rebuilt, ["search"]);
    let rebuilt = registry.get("search").unwrap();
    assert_eq!(rebuilt.state(), State::ForcedOpen);
    assert_eq!(rebuilt.snapshot().calls, 0);
    // Settings without one start closed, whatever state the old breaker was in.
    let report = registry.reload(&config(BEFORE)).unwrap();
    assert_eq!(report.rebuilt, ["search"]);
    assert_eq!(registry.get("search").unwrap().state(), State::Closed);
}
