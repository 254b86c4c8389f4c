//! `bench-chart OUTPUT.png`: draws criterion's results for the benchmark paths of
//! `crates/failgate/benches/breaker.rs` (see `crates/failgate/benches/NOTES.md`).

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

/// The groups of `benches/breaker.rs` that compare failgate with its peers, in order.
const PATHS: [&str; 6] = [
    "closed_success",
    "two_threads_closed_success",
    "two_threads_one_percent_failures",
    "open_rejection",
    "tower_service",
    "half_open_cycle",
];

/// Draws a PNG of median ns per call and calls/s per path from criterion's output.
#[derive(Debug, Parser)]
struct Args {
    /// Where to write the PNG (e.g. docs/bench.png).
    output: PathBuf,
    /// Also print the figures as a Markdown table (failgate against the fastest peer of
    /// each path), as the README shows them.
    #[arg(long)]
    markdown: bool,
    /// Criterion's output directory.
    #[arg(long, default_value = "target/criterion")]
    criterion: PathBuf,
    /// A benchmark group to draw (repeat for more, in order); default: the six paths.
    #[arg(long = "group")]
    groups: Vec<String>,
    /// The chart's title.
    #[arg(
        long,
        default_value = "failgate and its peers: median ns per call, and calls/s"
    )]
    title: String,
    /// A line under the title: how to read the figures, where they were measured.
    #[arg(long, default_value = NOTE)]
    note: String,
}

const NOTE: &str = "Medians from criterion. half_open_cycle: per full cycle (trip, open, \
closing probe). Two-thread groups: wall time per call over both threads.";

fn main() -> ExitCode {
    let mut args = Args::parse();
    if args.groups.is_empty() {
        args.groups = PATHS.iter().map(|g| g.to_string()).collect();
    }
    let run = || -> Result<usize, bench_chart::ChartError> {
        let measurements = bench_chart::read(&args.criterion, &args.groups)?;
        bench_chart::draw(&measurements, &args.output, &args.title, &args.note)?;
        if args.markdown {
            // A closed pipe (`| head`) is not an error worth a panic.
            let table = bench_chart::markdown(&measurements);
            let _ = std::io::Write::write_all(&mut std::io::stdout(), table.as_bytes());
        }
        Ok(measurements.len())
    };
    match run() {
        Ok(n) => {
            eprintln!("{}: {n} benchmarks", args.output.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench-chart: {e}");
            ExitCode::FAILURE
        }
    }
}
