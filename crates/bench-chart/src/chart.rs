//! The PNG: one panel per group, one horizontal bar per benchmark, scaled to the
//! slowest of its group, labelled with ns per call and calls per second.

use crate::{ChartError, Measurement};
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use std::path::Path;

const WIDTH: u32 = 1400;
const MARGIN: i32 = 16;
const HEADER: i32 = 76;
const GROUP_TITLE: i32 = 30;
const ROW: i32 = 22;
const GROUP_GAP: i32 = 14;
const BAR_X: i32 = 360;
const BAR_MAX: f64 = 560.0;
const FONT: &str = "sans-serif";

const FAILGATE: RGBColor = RGBColor(222, 110, 20);
const PEER: RGBColor = RGBColor(58, 108, 178);
const BASELINE: RGBColor = RGBColor(150, 150, 150);

/// Draws `measurements` (in their order, grouped by `group`) into a PNG at `path`, under
/// `title` and a line of `note`.
pub fn draw(
    measurements: &[Measurement],
    path: &Path,
    title: &str,
    note: &str,
) -> Result<(), ChartError> {
    if path
        .extension()
        .is_none_or(|e| !e.eq_ignore_ascii_case("png"))
    {
        return Err(draw_error(path, "the output must be a .png file"));
    }
    register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
        .map_err(|_| draw_error(path, "the embedded font is invalid"))?;
    let groups = grouped(measurements);
    let rows: i32 = groups.iter().map(|(_, g)| g.len() as i32).sum();
    let height = HEADER + rows * ROW + groups.len() as i32 * (GROUP_TITLE + GROUP_GAP) + MARGIN;
    let root = BitMapBackend::new(path, (WIDTH, height as u32)).into_drawing_area();
    let fail = |e: DrawingAreaErrorKind<_>| draw_error(path, &e.to_string());
    root.fill(&WHITE).map_err(fail)?;
    label(&root, title, MARGIN, MARGIN, 22).map_err(fail)?;
    label(&root, note, MARGIN, MARGIN + 30, 14).map_err(fail)?;
    let mut y = HEADER;
    for (group, rows) in groups {
        label(&root, group, MARGIN, y + 6, 18).map_err(fail)?;
        y += GROUP_TITLE;
        let slowest = rows.iter().map(|m| m.median_ns).fold(0.0, f64::max);
        for m in rows {
            let width = (m.median_ns / slowest * BAR_MAX).round().max(1.0) as i32;
            let corners = [(BAR_X, y + 3), (BAR_X + width, y + ROW - 3)];
            label(&root, &m.bench, MARGIN + 12, y + 4, 15).map_err(fail)?;
            root.draw(&Rectangle::new(corners, color(m).filled()))
                .map_err(fail)?;
            let figures = format!(
                "{} ns/call   {} calls/s",
                ns(m.median_ns),
                rate(m.calls_per_sec())
            );
            label(&root, &figures, BAR_X + width + 8, y + 4, 15).map_err(fail)?;
            y += ROW;
        }
        y += GROUP_GAP;
    }
    root.present().map_err(fail)
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;
type AreaError<'a> = DrawingAreaErrorKind<<BitMapBackend<'a> as DrawingBackend>::ErrorType>;

fn label<'a>(root: &Area<'a>, s: &str, x: i32, y: i32, size: i32) -> Result<(), AreaError<'a>> {
    root.draw(&Text::new(s.to_string(), (x, y), (FONT, size)))
}

fn draw_error(path: &Path, message: &str) -> ChartError {
    ChartError::Draw {
        path: path.into(),
        message: message.to_string(),
    }
}

/// Consecutive measurements of one group, in order.
fn grouped(measurements: &[Measurement]) -> Vec<(&str, Vec<&Measurement>)> {
    let mut groups: Vec<(&str, Vec<&Measurement>)> = Vec::new();
    for m in measurements {
        match groups.last_mut() {
            Some((group, rows)) if *group == m.group => rows.push(m),
            _ => groups.push((&m.group, vec![m])),
        }
    }
    groups
}

fn color(m: &Measurement) -> RGBColor {
    if m.bench.starts_with("failgate") {
        FAILGATE
    } else if m.bench.starts_with("baseline") || m.bench.starts_with("bare") {
        BASELINE
    } else {
        PEER
    }
}

fn ns(value: f64) -> String {
    match value {
        v if v < 100.0 => format!("{v:.1}"),
        v => format!("{v:.0}"),
    }
}

fn rate(per_sec: f64) -> String {
    match per_sec {
        r if r >= 1e9 => format!("{:.2} G", r / 1e9),
        r if r >= 1e6 => format!("{:.1} M", r / 1e6),
        r if r >= 1e3 => format!("{:.1} k", r / 1e3),
        r => format!("{r:.0}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(group: &str, bench: &str, median_ns: f64) -> Measurement {
        let (group, bench) = (group.to_string(), bench.to_string());
        Measurement {
            group,
            bench,
            median_ns,
        }
    }

    #[test]
    fn draws_a_png() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chart.png");
        let data = [
            m("g", "failgate", 3.0),
            m("g", "peer", 30.0),
            m("h", "baseline", 1.0),
        ];
        draw(&data, &path, "test", "note").unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
    }

    #[test]
    fn an_output_that_is_not_a_png_is_refused() {
        let err = draw(&[m("g", "b", 1.0)], Path::new("chart.svg"), "t", "").unwrap_err();
        assert!(err.to_string().contains("chart.svg"), "{err}");
    }

    #[test]
    fn rates_and_times_are_readable() {
        assert_eq!((ns(4.04), ns(1234.4)), ("4.0".into(), "1234".into()));
        assert_eq!(rate(247_500_000.0), "247.5 M");
        assert_eq!(rate(1_250_000_000.0), "1.25 G");
    }
}
