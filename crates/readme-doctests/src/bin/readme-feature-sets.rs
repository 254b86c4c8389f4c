//! Prints each distinct feature set README.md's Rust blocks declare, one per line, as
//! this crate's features separated by commas (an empty line for a block that needs
//! none): the runs `.ci/run` makes, each with
//! `cargo test -p readme-doctests --doc --no-default-features --features LINE`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let markdown = match std::fs::read_to_string(path) {
        Ok(markdown) => markdown,
        Err(e) => {
            eprintln!("error: {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match readme_doctests::readme::rust_blocks(&markdown) {
        Ok(blocks) => {
            for set in readme_doctests::readme::feature_sets(&blocks) {
                println!("{}", set.into_iter().collect::<Vec<_>>().join(","));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
