use std::collections::BTreeSet;

use crate::readme::{feature_sets, manifest_features, rust_blocks};

const README: &str = include_str!("../../../README.md");
const MANIFEST: &str = include_str!("../Cargo.toml");
const FAILGATE_MANIFEST: &str = include_str!("../../failgate/Cargo.toml");

fn set(features: &[&str]) -> BTreeSet<String> {
    features.iter().map(|f| f.to_string()).collect()
}

#[test]
fn every_declared_feature_is_one_of_this_crates_features() {
    let blocks = rust_blocks(README).unwrap();
    assert!(!blocks.is_empty(), "README.md has no Rust block");
    let known = manifest_features(MANIFEST).unwrap();
    for block in &blocks {
        let unknown: Vec<_> = block.features.difference(&known).collect();
        assert!(
            unknown.is_empty(),
            "README.md line {}: {unknown:?} are not features of readme-doctests",
            block.line
        );
    }
}

#[test]
fn every_feature_mirrors_the_feature_or_crate_it_is_named_after() {
    let manifest: toml::Table = MANIFEST.parse().unwrap();
    let features = manifest["features"].as_table().unwrap();
    let failgate = manifest_features(FAILGATE_MANIFEST).unwrap();
    for (name, enables) in features {
        let expected = match name.as_str() {
            "default" => toml::Value::Array(vec![]),
            "failgate-redis" | "failgate-reqwest" => {
                toml::Value::Array(vec![format!("dep:{name}").into()])
            }
            _ => {
                let feature = name.strip_prefix("failgate-").unwrap();
                assert!(
                    failgate.contains(feature),
                    "failgate has no feature `{feature}`"
                );
                toml::Value::Array(vec![format!("failgate/{feature}").into()])
            }
        };
        assert_eq!(enables, &expected, "feature `{name}`");
    }
}

#[test]
fn rust_blocks_are_found_with_their_lines_and_other_languages_skipped() {
    let markdown = "\
# Title
```sh
cargo test
```
```rust
// Cargo.toml: failgate = { version = \"0.1\", features = [\"registry\", \"toml\"] }
let x = 1;
```
```toml
[a]
```
~~~rust,no_run
// Cargo.toml: failgate = \"0.1\"
// Cargo.toml: failgate-redis = { version = \"0.1\", features = [\"tls\"] }
# let hidden = ();
~~~
```text
no declaration needed
```
```edition2021
let y = 2;
```
";
    let error = rust_blocks(markdown).unwrap_err();
    assert_eq!(
        error.line, 20,
        "a block rustdoc takes for Rust needs a declaration"
    );
    let markdown = &markdown[..markdown.find("```edition2021").unwrap()];
    let blocks = rust_blocks(markdown).unwrap();
    let lines: Vec<_> = blocks.iter().map(|b| (b.line, b.info.as_str())).collect();
    assert_eq!(lines, [(5, "rust"), (12, "rust,no_run")]);
    assert_eq!(
        blocks[0].features,
        set(&["failgate-registry", "failgate-toml"])
    );
    assert_eq!(
        blocks[1].features,
        set(&["failgate-redis", "failgate-redis-tls"])
    );
    assert_eq!(
        blocks[1].code,
        "// Cargo.toml: failgate = \"0.1\"\n\
         // Cargo.toml: failgate-redis = { version = \"0.1\", features = [\"tls\"] }\n\
         # let hidden = ();\n"
    );
    assert_eq!(feature_sets(&blocks).len(), 2);
}

#[test]
fn a_rust_block_without_a_declaration_is_an_error_naming_its_line() {
    let markdown = "text\n\n```\nlet x = 1;\n```\n";
    let error = rust_blocks(markdown).unwrap_err();
    assert_eq!(error.line, 3);
    assert!(
        error.to_string().starts_with("README.md line 3: "),
        "{error}"
    );
    let markdown = "```rust,ignore\nlet x = 1;\n// Cargo.toml: failgate = \"0.1\"\n```\n";
    assert_eq!(rust_blocks(markdown).unwrap_err().line, 1);
}

#[test]
fn a_declaration_that_is_not_a_workspace_dependency_is_an_error_naming_its_line() {
    for (declaration, expected) in [
        ("tokio = \"1\"", "crate `tokio`"),
        (
            "failgate = { version = \"0.1\", default-features = false }",
            "default-features",
        ),
        ("failgate = { features = [1] }", "features must be strings"),
        ("failgate = ", "not a Cargo.toml dependency line"),
        (
            "failgate = \"0.1\", failgate-redis = \"0.1\"",
            "not a Cargo.toml dependency line",
        ),
    ] {
        let markdown = format!(
            "```rust\n// Cargo.toml: failgate = \"0.1\"\n// Cargo.toml: {declaration}\n```\n"
        );
        let error = rust_blocks(&markdown).unwrap_err();
        assert_eq!(error.line, 3, "{declaration}: {error}");
        assert!(error.message.contains(expected), "{declaration}: {error}");
    }
}

#[test]
fn an_unclosed_block_is_an_error() {
    let error = rust_blocks("```rust\n// Cargo.toml: failgate = \"0.1\"\n").unwrap_err();
    assert_eq!(error.line, 1);
}
