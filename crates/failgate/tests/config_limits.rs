//! Configuration files are refused before parsing when they are too large or nest too
//! deeply: a parser's time must not be the file author's to choose.
#![cfg(all(feature = "toml", feature = "yaml", feature = "json"))]

use failgate::config_file::{FileError, Limit, RegistryConfig, MAX_DEPTH, MAX_FILE_BYTES};

const DEPTH: usize = 100_000; // 200 KB of brackets

fn nested(open: &str, close: &str) -> String {
    format!("{}{}", open.repeat(DEPTH), close.repeat(DEPTH))
}

fn too_deep(found: usize) -> Option<Limit> {
    Some(Limit::Depth {
        limit: MAX_DEPTH,
        found,
    })
}

#[test]
fn deeply_nested_yaml_flow_collections_are_refused_by_a_depth_limit() {
    let text = format!("defaults: {}\n", nested("[", "]"));
    let e = RegistryConfig::from_yaml_str(&text).unwrap_err();
    assert_eq!(e.limit(), too_deep(DEPTH + 1), "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "nesting depth {} is over the limit of {MAX_DEPTH}",
            DEPTH + 1
        )
    );
}

#[test]
fn deeply_nested_toml_arrays_are_refused_by_a_depth_limit() {
    let text = format!("[defaults]\nconsecutive_failures = {}\n", nested("[", "]"));
    let e = RegistryConfig::from_toml_str(&text).unwrap_err();
    assert_eq!(e.limit(), too_deep(DEPTH + 1), "{e}");
    let dotted = format!("{} = 1\n", vec!["a"; 100].join("."));
    let e = RegistryConfig::from_toml_str(&dotted).unwrap_err();
    assert_eq!(e.limit(), too_deep(99), "dotted keys nest too: {e}");
}

#[test]
fn deeply_nested_json_arrays_are_refused_by_a_depth_limit() {
    let text = format!("{{\"defaults\": {}}}", nested("[", "]"));
    let e = RegistryConfig::from_json_str(&text).unwrap_err();
    assert_eq!(e.limit(), too_deep(DEPTH + 1), "{e}");
}

#[test]
fn deep_yaml_block_nesting_is_refused_by_the_depth_limit() {
    let seqs = format!("defaults: {}x\n", "- ".repeat(1000));
    let e = RegistryConfig::from_yaml_str(&seqs).unwrap_err();
    assert!(matches!(e.limit(), Some(Limit::Depth { .. })), "{e}");
    let maps: String = (0..40)
        .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
        .collect();
    let e = RegistryConfig::from_yaml_str(&maps).unwrap_err();
    assert_eq!(e.limit(), too_deep(40), "{e}");
}

#[test]
fn an_oversized_file_is_refused_by_the_size_limit() {
    let text = format!("# {}\n", "x".repeat(MAX_FILE_BYTES));
    let size = Some(Limit::Size {
        limit: MAX_FILE_BYTES,
        found: text.len(),
    });
    for e in [
        RegistryConfig::from_toml_str(&text).unwrap_err(),
        RegistryConfig::from_yaml_str(&text).unwrap_err(),
        RegistryConfig::from_json_str(&text).unwrap_err(),
    ] {
        assert_eq!(e.limit(), size, "{e}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.yaml");
    std::fs::write(&path, &text).unwrap();
    let e = RegistryConfig::from_path(&path).unwrap_err();
    assert_eq!(e.limit(), size, "{e}");
    assert!(
        e.to_string()
            .contains(&format!("over the limit of {MAX_FILE_BYTES}")),
        "{e}"
    );
}

/// Brackets inside quoted scalars do not nest, and quotes that open nothing (inside a
/// plain scalar) do not hide the brackets after them.
#[test]
fn the_yaml_scan_is_not_fooled_by_quotes() {
    let deep = |body: &str| -> FileError {
        RegistryConfig::from_yaml_str(body).expect_err("should be refused")
    };
    let is_depth = |e: &FileError| matches!(e.limit(), Some(Limit::Depth { .. }));
    // Closers in strings between the openers.
    let e = deep(&format!("defaults: {}\n", "[ \"]\", ".repeat(100)));
    assert!(is_depth(&e), "{e}");
    let e = deep(&format!("defaults: {}\n", "[ ']', ".repeat(100)));
    assert!(is_depth(&e), "{e}");
    // JSON-style `"key":"value"` pairs whose values hold closers.
    let e = deep(&format!("defaults: {}\n", "[{\"a\":\"}}}\"}, ".repeat(100)));
    assert!(is_depth(&e), "{e}");
    // An apostrophe in a plain scalar, then single-quoted closers.
    let e = deep(&format!("a: don't\nb: {}\n", "['x]]', ".repeat(100)));
    assert!(is_depth(&e), "{e}");
    let e = deep(&format!("defaults: [don't, {}]\n", "['x]]', ".repeat(100)));
    assert!(is_depth(&e), "{e}");
    let e = deep(&format!("defaults: [x 'y, {}]\n", "'a]', [".repeat(100)));
    assert!(is_depth(&e), "{e}");
    // A multi-line quoted scalar holding what looks like YAML.
    let e = deep(&format!(
        "a: \"x\n  [ '\n  \"\nb: {} 'x]]'\n",
        "[".repeat(100)
    ));
    assert!(is_depth(&e), "{e}");
    // A plain scalar continued on a line that starts with a quote.
    let e = deep(&format!("a: plain\n  'more [[\nb: {}\n", "[".repeat(100)));
    assert!(is_depth(&e), "{e}");
    // Comments, anchors and tags.
    let e = deep(&format!("a: &x !t 'q' # it's\nb: {}\n", "[".repeat(100)));
    assert!(is_depth(&e), "{e}");
}

#[test]
fn ordinary_yaml_passes_the_scan() {
    let text = r#"
# Breakers for the shop: it's fine to use apostrophes in comments.
defaults:
  consecutive_failures: 5
  open_for: "60s"
breakers:
  'pay''ments':
    failure_rate: 0.5
    window: {time: 1m, buckets: 12}
    backoff: { base: "1s", max: '1m 30s', jitter: 0.2 }
  "search": {window: {count: 50}, failure_rate: 0.25}
"#;
    let config = RegistryConfig::from_yaml_str(text).unwrap();
    assert_eq!(config.breakers.len(), 2);
    let e = RegistryConfig::from_yaml_str("defaults:\n  open_for: >\n    60s\n").unwrap_err();
    assert!(
        matches!(e.limit(), Some(Limit::UnscannableYaml { line: 2, .. })),
        "{e}"
    );
}
