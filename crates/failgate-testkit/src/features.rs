//! The crate docs' "# Cargo features" section against the manifest: each crate's front
//! page lists its features by hand (no proc-macro dependency for it), and a test makes
//! sure that list names exactly the features `Cargo.toml` declares.

use std::collections::BTreeSet;

/// Panics, naming the features, unless the `# Cargo features` section of `lib_rs`'s
/// crate docs lists (as `` - `name` `` items) exactly the features of `cargo_toml`'s
/// `[features]` table, apart from `default`. A crate without features must say so in
/// that section (it must still have one).
pub fn check_listed(cargo_toml: &str, lib_rs: &str) {
    let declared = declared(cargo_toml);
    let listed = listed(lib_rs)
        .unwrap_or_else(|| panic!("the crate docs have no `# Cargo features` section"));
    let missing: Vec<_> = declared.difference(&listed).collect();
    let unknown: Vec<_> = listed.difference(&declared).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "`# Cargo features` in the crate docs: not listed {missing:?}, \
         not in Cargo.toml {unknown:?}"
    );
}

/// The `[features]` table's keys, but `default`.
fn declared(cargo_toml: &str) -> BTreeSet<String> {
    cargo_toml
        .lines()
        .skip_while(|l| l.trim() != "[features]")
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with('['))
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_owned()))
        .filter(|k| !k.is_empty() && k != "default")
        .collect()
}

/// The `` - `name` `` items of the `//! # Cargo features` section, if there is one.
fn listed(lib_rs: &str) -> Option<BTreeSet<String>> {
    let docs: Vec<&str> = lib_rs
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(str::trim)
        .collect();
    let start = docs.iter().position(|l| *l == "# Cargo features")?;
    let names = docs[start + 1..]
        .iter()
        .take_while(|l| !l.starts_with("# "))
        .filter_map(|l| l.strip_prefix("- `"))
        .filter_map(|l| l.split_once('`').map(|(name, _)| name.to_owned()))
        .collect();
    Some(names)
}
