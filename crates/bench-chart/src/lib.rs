//! Reads criterion's results (`target/criterion/**/new/estimates.json`) and draws them:
//! one panel per benchmark group, one bar per benchmark, each labelled with its median
//! time per call and the calls per second that follow from it.

mod chart;
mod read;
mod table;

pub use chart::draw;
pub use read::{read, Measurement};
pub use table::markdown;

use std::path::PathBuf;

/// What went wrong, naming the input at fault.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// The criterion directory does not exist or is not a directory.
    #[error("no criterion results at {path}: run the benchmark first")]
    MissingDir {
        /// The directory looked for.
        path: PathBuf,
    },
    /// The directory holds no `new/estimates.json` of any of the wanted groups.
    #[error("no new/estimates.json under {path} for the groups {groups:?}")]
    NoEstimates {
        /// The directory searched.
        path: PathBuf,
        /// The groups wanted.
        groups: Vec<String>,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not the JSON criterion writes.
    #[error("invalid criterion file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// A median that is not a positive number of nanoseconds.
    #[error("invalid median {value} ns in {path}")]
    BadMedian {
        /// The estimates file.
        path: PathBuf,
        /// The value found.
        value: f64,
    },
    /// Drawing or writing the PNG failed.
    #[error("cannot draw {path}: {message}")]
    Draw {
        /// The PNG being written.
        path: PathBuf,
        /// Why.
        message: String,
    },
}
