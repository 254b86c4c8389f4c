//! The workspace README's Rust examples, as doctests.
//!
//! Each Rust code block of `README.md` starts with the Cargo.toml lines a reader needs
//! for it, as visible comments:
//!
//! ```text
//! // Cargo.toml: failgate = { version = "0.1", features = ["registry", "toml"] }
//! ```
//!
//! The build script splits the README into its code blocks ([`readme::rust_blocks`])
//! and turns each Rust block into one doc item, gated on
//! `cfg(all(doctest, feature = "failgate-registry", feature = "failgate-toml"))`:
//! exactly this crate's features that mirror the declared ones. So
//!
//! ```text
//! cargo test -p readme-doctests --doc --no-default-features --features failgate-registry,failgate-toml
//! ```
//!
//! builds failgate with `registry` and `toml` (and what they imply) and nothing else,
//! and runs the blocks that need no more; `--all-features` runs every block. A block
//! that uses a feature it does not declare fails to compile in its own run, which
//! `.ci/run` makes once per distinct declared set (listed by the `readme-feature-sets`
//! binary). Blocks in other languages (`text`, `toml`, `sh`) are skipped; a Rust block
//! without a declaration, or declaring a feature this crate does not mirror, fails the
//! build, naming its README line.
//!
//! Failgate's default features are off in every run, so a block that declares none
//! needs none. `failgate-redis` itself depends on failgate with its default features,
//! so a block that declares `failgate-redis` is also built with `quanta`.

pub mod readme;

#[cfg(test)]
mod tests;

include!(concat!(env!("OUT_DIR"), "/readme_blocks.rs"));
