//! Turns each Rust code block of the workspace's README.md into one doc item of this
//! crate, gated on exactly the features the block declares, so `cargo test --doc`
//! compiles and runs the block only when those features (and so failgate's features
//! they mirror) are on.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[path = "src/readme.rs"]
#[allow(dead_code)] // `feature_sets` is for the library, not the build script
mod readme;

fn main() {
    if let Err(message) = run() {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(env("OUT_DIR")?);
    let readme_path = manifest_dir.join("../../README.md");
    println!("cargo::rerun-if-changed={}", readme_path.display());
    println!("cargo::rerun-if-changed=src/readme.rs");

    // `cargo package` verifies a copy of this crate outside the workspace, where the
    // README is not: that copy has no examples to test. In the source tree a missing
    // README is an error.
    if !readme_path.exists() && manifest_dir.join("Cargo.toml.orig").exists() {
        println!(
            "cargo::warning=packaged copy: no README.md beside the workspace, no examples to test"
        );
        return write(&out_dir.join("readme_blocks.rs"), "");
    }
    let markdown = read(&readme_path)?;
    let blocks = readme::rust_blocks(&markdown).map_err(|e| e.to_string())?;
    let manifest_path = manifest_dir.join("Cargo.toml");
    let known = readme::manifest_features(&read(&manifest_path)?)
        .map_err(|e| format!("{}: {e}", manifest_path.display()))?;
    let mut items = String::new();
    for block in &blocks {
        if let Some(unknown) = block.features.iter().find(|f| !known.contains(*f)) {
            return Err(format!(
                "README.md line {}: the declared feature needs this crate's feature `{unknown}`, \
                 which crates/readme-doctests/Cargo.toml does not have",
                block.line
            ));
        }
        let file = format!("readme_line_{}.md", block.line);
        let doc = format!("```{}\n{}```\n", block.info, block.code);
        write(&out_dir.join(&file), &doc)?;
        let _ = writeln!(
            items,
            "/// README.md line {line}.\n#[cfg(all(doctest{cfg}))]\n\
             #[doc = include_str!(concat!(env!(\"OUT_DIR\"), \"/{file}\"))]\n\
             pub struct ReadmeLine{line};\n",
            line = block.line,
            cfg = block
                .features
                .iter()
                .map(|f| format!(", feature = \"{f}\""))
                .collect::<String>(),
        );
    }
    write(&out_dir.join("readme_blocks.rs"), &items)
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|e| format!("{name}: {e}"))
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn write(path: &Path, contents: &str) -> Result<(), String> {
    std::fs::write(path, contents).map_err(|e| format!("{}: {e}", path.display()))
}
