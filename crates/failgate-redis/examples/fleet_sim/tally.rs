//! The children's lines, added up: trips by breaker and generation, probes per
//! half-open period, and each instance's totals.

use crate::report::Run;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;

/// `key=value` fields of a line.
fn fields(line: &str) -> BTreeMap<&str, u64> {
    line.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .filter_map(|(k, v)| Some((k, v.parse().ok()?)))
        .collect()
}

#[derive(Default)]
pub struct Tally {
    /// Shared-mode openings by (breaker, generation): (instance, epoch ns) each.
    pub opens: BTreeMap<(u32, u64), Vec<(u32, u64)>>,
    pub local_opens: u64,
    pub transitions: BTreeMap<String, u64>,
    pub probes: BTreeMap<(u32, u64), u64>,
    pub done: Vec<BTreeMap<String, u64>>,
    /// Breakers outside the failing subset that left generation 0 (any instance).
    pub false_trips: BTreeMap<u32, ()>,
}

pub fn tally(run: &Run) -> Tally {
    let mut t = Tally::default();
    for (child, line) in &run.lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        let f = fields(line);
        let idx = || words.get(1).and_then(|w| w.parse::<u32>().ok());
        match words.first().copied() {
            Some("state") => {
                let state = words.get(2).copied().unwrap_or("?");
                *t.transitions.entry(state.to_owned()).or_default() += 1;
                if state != "open" {
                    continue;
                }
                if !line.ends_with("mode=shared") {
                    t.local_opens += 1;
                } else if let (Some(i), Some(g), Some(at)) = (idx(), f.get("gen"), f.get("at_ns")) {
                    t.opens.entry((i, *g)).or_default().push((*child, *at));
                }
            }
            Some("probe") => {
                if let (Some(i), Some(g), Some(n)) = (idx(), f.get("gen"), f.get("n")) {
                    *t.probes.entry((i, *g)).or_default() += n;
                }
            }
            Some("done") => t
                .done
                .push(f.iter().map(|(k, v)| (k.to_string(), *v)).collect()),
            Some("generations") => {
                let gens = words.get(1).copied().unwrap_or("");
                for (i, g) in gens.split(',').enumerate() {
                    if i as u32 >= run.o.failing && g != "0" {
                        t.false_trips.insert(i as u32, ());
                    }
                }
            }
            _ => {}
        }
    }
    t
}

pub fn sum(t: &Tally, key: &str) -> u64 {
    t.done.iter().filter_map(|d| d.get(key)).sum()
}

/// Trip propagation: from the first instance seeing a trip to each other's seeing it.
pub fn propagation(t: &Tally, instances: u32) {
    let Ok(mut h) = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3) else {
        return;
    };
    let mut partial = 0;
    for seen in t.opens.values() {
        if seen.len() < instances as usize {
            partial += 1;
        }
        let first = seen.iter().map(|s| s.1).min().unwrap_or(0);
        let mut first_skipped = false;
        for &(_, at) in seen {
            if at == first && !first_skipped {
                first_skipped = true; // the first instance's own zero is no propagation
                continue;
            }
            let _ = h.record((at - first) / 1_000);
        }
    }
    let ms = |v: u64| v as f64 / 1_000.0;
    let pairs = h.len();
    println!(
        "| trip propagation (first instance to each other, {} trips, {pairs} pairs) | p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms |",
        t.opens.len(),
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max()),
    );
    println!(
        "| trips not seen open by every instance | {partial} of {} ({} local-mode openings) |",
        t.opens.len(),
        t.local_opens
    );
}

/// Probes per half-open period, fleet-wide; false (and a FAIL line) if any exceeded.
pub fn probes(t: &Tally, permits: u32) -> bool {
    let max = t.probes.values().max().copied().unwrap_or(0);
    println!(
        "| probes per half-open period, fleet-wide | max {max} (limit {permits}), {} periods with probes, {} probes |",
        t.probes.len(),
        t.probes.values().sum::<u64>()
    );
    let over: Vec<_> = t
        .probes
        .iter()
        .filter(|(_, n)| **n > u64::from(permits))
        .collect();
    for ((i, g), n) in &over {
        println!("FAIL: host-{i} generation {g} had {n} probes, more than {permits}");
    }
    over.is_empty()
}
