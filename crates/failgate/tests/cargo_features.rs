//! The front page's `# Cargo features` section names exactly the features in
//! `Cargo.toml`.

#[allow(dead_code, unreachable_pub)]
mod testkit;

#[test]
fn the_crate_docs_list_every_cargo_feature() {
    testkit::features::check_listed(include_str!("../Cargo.toml"), include_str!("../src/lib.rs"));
}
