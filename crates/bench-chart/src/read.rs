//! Criterion's files: `new/benchmark.json` names a benchmark (group and function), and
//! `new/estimates.json` holds its estimates, in nanoseconds per iteration.

use crate::ChartError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// One benchmark's median.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// The benchmark group (the path measured), e.g. `closed_success`.
    pub group: String,
    /// The benchmark in the group, e.g. `failgate_consecutive`.
    pub bench: String,
    /// The median point estimate, nanoseconds per call.
    pub median_ns: f64,
}

impl Measurement {
    /// Calls per second at the median.
    pub fn calls_per_sec(&self) -> f64 {
        1e9 / self.median_ns
    }
}

#[derive(Deserialize)]
struct Benchmark {
    group_id: String,
    function_id: Option<String>,
}

#[derive(Deserialize)]
struct Estimates {
    median: Estimate,
}

#[derive(Deserialize)]
struct Estimate {
    point_estimate: f64,
}

/// Every benchmark of `groups` under `dir` (criterion's output directory), in the order
/// of `groups`; in a group the baseline first, then failgate's, then the peers', each by
/// name.
pub fn read(dir: &Path, groups: &[String]) -> Result<Vec<Measurement>, ChartError> {
    if !dir.is_dir() {
        return Err(ChartError::MissingDir { path: dir.into() });
    }
    let mut found = Vec::new();
    for new_dir in new_dirs(dir)? {
        let benchmark: Benchmark = parse(&new_dir.join("benchmark.json"))?;
        if !groups.contains(&benchmark.group_id) {
            continue;
        }
        let path = new_dir.join("estimates.json");
        let estimates: Estimates = parse(&path)?;
        let value = estimates.median.point_estimate;
        if !(value.is_finite() && value > 0.0) {
            return Err(ChartError::BadMedian { path, value });
        }
        found.push(Measurement {
            group: benchmark.group_id,
            bench: benchmark.function_id.unwrap_or_default(),
            median_ns: value,
        });
    }
    if found.is_empty() {
        let (path, groups) = (dir.into(), groups.to_vec());
        return Err(ChartError::NoEstimates { path, groups });
    }
    let rank = |m: &Measurement| {
        let group = groups.iter().position(|g| *g == m.group);
        (group, kind(&m.bench), m.bench.clone())
    };
    found.sort_by_key(rank);
    Ok(found)
}

/// Where a benchmark sorts in its group: the bare call or service, failgate, a peer.
fn kind(bench: &str) -> u8 {
    if bench.starts_with("baseline") || bench.starts_with("bare") {
        0
    } else if bench.starts_with("failgate") {
        1
    } else {
        2
    }
}

/// Every `new` directory holding an `estimates.json`, at any depth under `dir`.
fn new_dirs(dir: &Path) -> Result<Vec<PathBuf>, ChartError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| ChartError::Read {
            path: dir.clone(),
            source,
        })?;
        for entry in entries {
            let path = entry
                .map_err(|source| ChartError::Read {
                    path: dir.clone(),
                    source,
                })?
                .path();
            if !path.is_dir() {
                continue;
            }
            if path.file_name().is_some_and(|n| n == "new") {
                if path.join("estimates.json").is_file() {
                    out.push(path);
                }
            } else {
                stack.push(path);
            }
        }
    }
    Ok(out)
}

fn parse<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ChartError> {
    let text = std::fs::read_to_string(path).map_err(|source| ChartError::Read {
        path: path.into(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| ChartError::Parse {
        path: path.into(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixture/criterion")
    }

    fn groups(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    /// A criterion directory with one benchmark, `g/b`, whose estimates are `estimates`.
    fn one_benchmark(estimates: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("g/b/new");
        std::fs::create_dir_all(&new).unwrap();
        let benchmark = r#"{"group_id":"g","function_id":"b"}"#;
        std::fs::write(new.join("benchmark.json"), benchmark).unwrap();
        std::fs::write(new.join("estimates.json"), estimates).unwrap();
        dir
    }

    #[test]
    fn reads_the_median_of_each_benchmark_in_group_order() {
        let wanted = groups(&["open_rejection", "closed_success", "tower_service"]);
        let got = read(&fixture(), &wanted).unwrap();
        let got: Vec<_> = got
            .iter()
            .map(|m| (m.group.as_str(), m.bench.as_str(), m.median_ns))
            .collect();
        assert_eq!(
            got,
            [
                ("open_rejection", "failgate", 2.5),
                ("closed_success", "failgate_consecutive", 4.0),
                ("closed_success", "recloser_default", 20.0),
                ("tower_service", "bare_service", 1.0),
                ("tower_service", "failgate_layer", 9.0),
            ]
        );
    }

    #[test]
    fn calls_per_second_follow_from_the_median() {
        let got = read(&fixture(), &groups(&["closed_success"])).unwrap();
        assert_eq!(got[0].calls_per_sec(), 250_000_000.0);
    }

    #[test]
    fn groups_not_asked_for_are_left_out() {
        let err = read(&fixture(), &groups(&["half_open_cycle"])).unwrap_err();
        assert!(matches!(err, ChartError::NoEstimates { .. }), "{err}");
    }

    #[test]
    fn a_missing_directory_is_named() {
        let err = read(Path::new("/nonexistent/criterion"), &groups(&["x"])).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/criterion"), "{err}");
    }

    #[test]
    fn an_invalid_estimates_file_is_named() {
        let dir = one_benchmark("{\"median\":");
        let err = read(dir.path(), &groups(&["g"])).unwrap_err();
        assert!(matches!(err, ChartError::Parse { .. }), "{err}");
        assert!(err.to_string().contains("estimates.json"), "{err}");
    }

    #[test]
    fn a_median_that_is_not_positive_is_refused() {
        let dir = one_benchmark(r#"{"median":{"point_estimate":0.0}}"#);
        let err = read(dir.path(), &groups(&["g"])).unwrap_err();
        assert!(
            matches!(err, ChartError::BadMedian { value, .. } if value == 0.0),
            "{err}"
        );
    }
}
