//! Times the configuration parsers on the worst texts the limits let through, and on
//! texts the limits refuse: every one must be accepted or refused in well under a
//! second. Run with
//! `cargo run --release -p failgate --example config_limits --all-features`.

use failgate::config_file::{FileError, RegistryConfig, MAX_DEPTH, MAX_FILE_BYTES};
use std::time::Instant;

type Parse = fn(&str) -> Result<RegistryConfig, FileError>;

fn main() {
    // As deep as allowed, repeated up to the size limit.
    let inner = MAX_DEPTH - 3;
    let unit = format!("{}{}, ", "[".repeat(inner), "]".repeat(inner));
    let fill = |prefix: &str, suffix: &str| {
        let room = MAX_FILE_BYTES - prefix.len() - suffix.len() - 8;
        format!("{prefix}{}{suffix}", unit.repeat(room / unit.len()))
    };
    let yaml_deep = fill("defaults: [", "]\n");
    let toml_deep = fill("x = [", "]\n");
    let json_deep = fill("{\"x\": [", "1]}");
    let refused_yaml = format!("defaults: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let refused_seqs = format!("defaults: {}x\n", "- ".repeat(100_000));
    let line = |i: usize| format!("  b{i}: {{failure_rate: 0.5}}\n");
    let count = (MAX_FILE_BYTES - 16) / line(99_999).len();
    let many_yaml = format!("breakers:\n{}", (0..count).map(line).collect::<String>());
    let cases: [(&str, &String, Parse); 6] = [
        (
            "yaml, nested to the limit, at the size limit",
            &yaml_deep,
            RegistryConfig::from_yaml_str,
        ),
        (
            "toml, nested to the limit, at the size limit",
            &toml_deep,
            RegistryConfig::from_toml_str,
        ),
        (
            "json, nested to the limit, at the size limit",
            &json_deep,
            RegistryConfig::from_json_str,
        ),
        (
            "yaml, 100,000 nested flow sequences",
            &refused_yaml,
            RegistryConfig::from_yaml_str,
        ),
        (
            "yaml, 100,000 nested block sequences",
            &refused_seqs,
            RegistryConfig::from_yaml_str,
        ),
        (
            "yaml, as many breakers as fit",
            &many_yaml,
            RegistryConfig::from_yaml_str,
        ),
    ];
    for (name, text, parse) in cases {
        let mut times: Vec<_> = (0..5)
            .map(|_| {
                let started = Instant::now();
                let result = parse(text);
                (started.elapsed(), result.map(|c| c.breakers.len()))
            })
            .collect();
        times.sort_by_key(|(t, _)| *t);
        let (median, result) = &times[2];
        let verdict = match result {
            Ok(n) => format!("accepted, {n} breakers"),
            Err(e) => format!(
                "refused: {}",
                e.to_string().chars().take(70).collect::<String>()
            ),
        };
        println!(
            "{name}: {} bytes, median {median:.2?} ({verdict})",
            text.len()
        );
    }
}
