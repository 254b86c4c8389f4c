//! Splits a Markdown file into its fenced code blocks and reads the Cargo.toml
//! declaration at the top of each Rust block.
//!
//! A Rust block (info string `rust`, `rust,no_run`, `rust,ignore`, ... or none, which
//! rustdoc also takes for Rust) starts with one or more visible lines such as
//!
//! ```text
//! // Cargo.toml: failgate = { version = "0.1", features = ["registry", "toml"] }
//! // Cargo.toml: failgate-redis = "0.1"
//! ```
//!
//! each naming one of the workspace's crates with the features the example needs.
//! Blocks in other languages (`text`, `toml`, `sh`, ...) are skipped.
//!
//! This file is also compiled into the build script (by `#[path]`), so it uses nothing
//! but std and `toml`.

use std::collections::BTreeSet;
use std::fmt;

/// What starts a declaration line.
pub const DECLARATION: &str = "// Cargo.toml:";

/// The crates a block may declare. Each maps to this crate's features: the crate itself
/// to `<crate>` (except `failgate`, always a dependency), and its feature `f` to
/// `<crate>-f`.
pub const CRATES: [&str; 3] = ["failgate", "failgate-redis", "failgate-reqwest"];

/// One Rust code block of the Markdown file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The 1-based line of the opening fence.
    pub line: usize,
    /// The fence's info string, e.g. `rust,no_run`.
    pub info: String,
    /// The lines between the fences, declaration included, each ending in `\n`.
    pub code: String,
    /// This crate's features the block needs, from its declaration.
    pub features: BTreeSet<String>,
}

/// A block that cannot be turned into a doctest, by the line of its opening fence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitError {
    /// The 1-based line the error is about.
    pub line: usize,
    /// What is wrong there.
    pub message: String,
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "README.md line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for SplitError {}

/// The Rust blocks of `markdown`, in order, each with the features it declares.
pub fn rust_blocks(markdown: &str) -> Result<Vec<Block>, SplitError> {
    let mut blocks = Vec::new();
    let mut lines = markdown.lines().enumerate();
    while let Some((index, line)) = lines.next() {
        let Some((fence, info)) = opening_fence(line) else {
            continue;
        };
        let mut code = String::new();
        let mut closed = false;
        for (_, inner) in lines.by_ref() {
            if is_closing_fence(inner, fence) {
                closed = true;
                break;
            }
            code.push_str(inner);
            code.push('\n');
        }
        let line = index + 1;
        if !closed {
            return Err(error(line, "code block is never closed"));
        }
        if is_rust(info) {
            let features = declared_features(line, &code)?;
            blocks.push(Block {
                line,
                info: info.to_owned(),
                code,
                features,
            });
        }
    }
    Ok(blocks)
}

/// Each distinct feature set the blocks declare, sorted.
pub fn feature_sets(blocks: &[Block]) -> BTreeSet<BTreeSet<String>> {
    blocks.iter().map(|block| block.features.clone()).collect()
}

/// The names in the `[features]` table of a Cargo.toml manifest.
pub fn manifest_features(manifest: &str) -> Result<BTreeSet<String>, String> {
    let table: toml::Table = manifest.parse().map_err(|e| format!("{e}"))?;
    Ok(table
        .get("features")
        .and_then(toml::Value::as_table)
        .map(|features| features.keys().cloned().collect())
        .unwrap_or_default())
}

fn error(line: usize, message: impl Into<String>) -> SplitError {
    SplitError {
        line,
        message: message.into(),
    }
}

/// The fence (its characters) and the info string of an opening fence line.
fn opening_fence(line: &str) -> Option<(&str, &str)> {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() > 3 {
        return None;
    }
    let marker = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let length = trimmed.len() - trimmed.trim_start_matches(marker).len();
    if length < 3 {
        return None;
    }
    let (fence, info) = trimmed.split_at(length);
    Some((fence, info.trim()))
}

fn is_closing_fence(line: &str, fence: &str) -> bool {
    let trimmed = line.trim();
    let marker = fence.as_bytes()[0] as char;
    trimmed.len() >= fence.len() && trimmed.chars().all(|c| c == marker)
}

/// rustdoc's rule: a block is Rust unless its first attribute names another language.
fn is_rust(info: &str) -> bool {
    let first = info.split([',', ' ']).next().unwrap_or("").trim();
    matches!(
        first,
        "" | "rust"
            | "no_run"
            | "should_panic"
            | "compile_fail"
            | "test_harness"
            | "standalone_crate"
    ) || first.starts_with("ignore")
        || first.starts_with("edition")
}

/// The features declared by the block's leading `// Cargo.toml:` lines.
fn declared_features(line: usize, code: &str) -> Result<BTreeSet<String>, SplitError> {
    let mut features = BTreeSet::new();
    let mut declared = false;
    for (offset, text) in code.lines().enumerate() {
        let Some(spec) = text.trim().strip_prefix(DECLARATION) else {
            break;
        };
        declared = true;
        // The opening fence is `line`, so the block's first line is `line + 1`.
        let at = line + 1 + offset;
        features.extend(dependency_features(spec).map_err(|message| error(at, message))?);
    }
    if !declared {
        return Err(error(
            line,
            format!(
                "Rust code block without a declaration of what it needs: start it with a line \
                 such as `{DECLARATION} failgate = {{ version = \"0.1\", features = [\"tower\"] }}`"
            ),
        ));
    }
    Ok(features)
}

/// This crate's features for one declaration, e.g. `failgate-redis = "0.1"`.
fn dependency_features(spec: &str) -> Result<Vec<String>, String> {
    let table: toml::Table = spec
        .parse()
        .map_err(|e| format!("`{}` is not a Cargo.toml dependency line: {e}", spec.trim()))?;
    let mut entries = table.into_iter();
    let (Some((name, value)), None) = (entries.next(), entries.next()) else {
        return Err(format!("`{}` must name exactly one crate", spec.trim()));
    };
    if !CRATES.contains(&name.as_str()) {
        return Err(format!(
            "crate `{name}` is not one of {CRATES:?}, the crates README examples are tested with"
        ));
    }
    let mut features = Vec::new();
    if name != "failgate" {
        features.push(name.clone());
    }
    match value {
        toml::Value::String(_) => {}
        toml::Value::Table(table) => {
            for (key, value) in table {
                match (key.as_str(), value) {
                    ("version", toml::Value::String(_)) => {}
                    ("features", toml::Value::Array(list)) => {
                        for feature in list {
                            let toml::Value::String(feature) = feature else {
                                return Err(format!("`{name}`: features must be strings"));
                            };
                            features.push(format!("{name}-{feature}"));
                        }
                    }
                    (key, value) => {
                        return Err(format!(
                            "`{name}`: `{key} = {value}` is not supported (only `version` and `features`)"
                        ))
                    }
                }
            }
        }
        other => return Err(format!("`{name} = {other}` is not a dependency")),
    }
    Ok(features)
}
