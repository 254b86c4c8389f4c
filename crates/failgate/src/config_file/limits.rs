//! The limits a configuration file is held to before any parser sees it.
//!
//! A parser's time must not be for the file's author to choose: a YAML parser (libyaml,
//! under serde_yaml_ng) spends time in proportion to the nesting depth for every token,
//! so 200 KB of nested `[` takes a minute to refuse. Every text is checked first for
//! its size ([`MAX_FILE_BYTES`]) and then, in one linear scan, for its nesting depth
//! ([`MAX_DEPTH`]): brackets and braces outside strings and comments, plus TOML's
//! dotted keys and YAML's indentation levels. The scan is conservative: it may count
//! deeper than the parser would, never shallower. YAML quoting depends on context: the
//! scan follows libyaml's rules for where a quoted scalar may start (see `yaml_scan`),
//! and refuses block scalars (`|`, `>`), whose text it cannot tell from YAML without
//! parsing, and which no setting needs.

// Used by the format features only: `serde` alone reads no text.
#![cfg_attr(
    not(any(feature = "toml", feature = "yaml", feature = "json")),
    allow(dead_code)
)]

use super::error::Limit;
use super::yaml_scan::{self, line_end};

/// The largest configuration file accepted: 256 KiB, room for thousands of breakers.
/// With [`MAX_DEPTH`] it bounds every parser's time on any text to well under a second.
pub const MAX_FILE_BYTES: usize = 256 << 10;

/// The deepest nesting accepted. A valid file nests 4 deep at most
/// (`breakers.payments.window.time`); 16 leaves room for any layout.
pub const MAX_DEPTH: usize = 16;

/// The formats, for their scans.
#[derive(Debug, Clone, Copy)]
pub(super) enum Format {
    #[allow(dead_code)] // unused without the `toml` feature
    Toml,
    #[allow(dead_code)] // unused without the `yaml` feature
    Yaml,
    #[allow(dead_code)] // unused without the `json` feature
    Json,
}

/// Checks `text` against every limit, before parsing.
pub(super) fn check(text: &str, format: Format) -> Result<(), Limit> {
    if text.len() > MAX_FILE_BYTES {
        return Err(Limit::Size {
            limit: MAX_FILE_BYTES,
            found: text.len(),
        });
    }
    let bytes = text.as_bytes();
    let depth = match format {
        Format::Json => json_depth(bytes),
        Format::Toml => toml_depth(bytes),
        Format::Yaml => yaml_scan::depth(bytes)?,
    };
    if depth > MAX_DEPTH {
        return Err(Limit::Depth {
            limit: MAX_DEPTH,
            found: depth,
        });
    }
    Ok(())
}

/// Brackets and braces outside strings: exact for JSON.
fn json_depth(b: &[u8]) -> usize {
    let (mut depth, mut max, mut i) = (0usize, 0usize, 0);
    while i < b.len() {
        match b[i] {
            b'"' => i = string_end(b, i, b'"', true, false),
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    max
}

/// Brackets and braces outside strings and comments, plus one level per dot of a
/// dotted key (`a.b.c = 1` nests two tables), under the tables of the last header
/// (`[a.b]` puts the keys below it two deep).
fn toml_depth(b: &[u8]) -> usize {
    let (mut depth, mut dots, mut in_key) = (0usize, 0usize, true);
    let (mut table, mut header, mut fresh) = (0usize, false, true);
    let (mut max, mut i) = (0usize, 0);
    while i < b.len() {
        let c = b[i];
        match c {
            b'#' => i = line_end(b, i).saturating_sub(1).max(i),
            b'"' | b'\'' => i = toml_string_end(b, i),
            b'[' => {
                if fresh && depth == 0 {
                    (header, table) = (true, 0);
                }
                depth += 1;
            }
            b'{' => {
                depth += 1;
                (in_key, dots) = (true, 0);
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                if header && depth == 0 {
                    (table, dots, header) = (dots + 1, 0, false);
                }
            }
            b'.' if in_key => dots += 1,
            b'=' => in_key = false,
            b',' | b'\n' => (in_key, dots) = (true, 0),
            _ => {}
        }
        max = max.max(table + depth + dots);
        fresh = c == b'\n' || (fresh && matches!(c, b' ' | b'\t' | b'\r'));
        i += 1;
    }
    max
}

/// Where the TOML string opening at `i` ends (its last quote).
fn toml_string_end(b: &[u8], i: usize) -> usize {
    let q = b[i];
    if b[i..].starts_with(&[q, q, q]) {
        let escapes = q == b'"';
        let mut j = i + 3;
        while j < b.len() {
            if escapes && b[j] == b'\\' {
                j += 2;
                continue;
            }
            if b[j..].starts_with(&[q, q, q]) {
                return j + 2;
            }
            j += 1;
        }
        return b.len();
    }
    // One-line strings end at the line's end at the latest, as the parser's do.
    string_end(b, i, q, q == b'"', true)
}

/// Where the string opening with `quote` at `i` ends: the index of its closing quote
/// (or of the line's end, with `one_line`, or the text's end).
pub(super) fn string_end(b: &[u8], i: usize, quote: u8, escapes: bool, one_line: bool) -> usize {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' if escapes => j += 1,
            b'\n' if one_line => return j,
            c if c == quote => return j,
            _ => {}
        }
        j += 1;
    }
    b.len()
}
