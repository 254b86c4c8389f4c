//! The front page's `# Cargo features` section names exactly the features in
//! `Cargo.toml`.

#[path = "testkit/features.rs"]
#[allow(unreachable_pub)]
mod features;

#[test]
fn the_crate_docs_list_every_cargo_feature() {
    features::check_listed(include_str!("../Cargo.toml"), include_str!("../src/lib.rs"));
}
