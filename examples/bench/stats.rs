//! Medians of runs and percentiles of latency samples.

/// Median of the runs' values (mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    assert!(!values.is_empty(), "median of no runs");
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

/// p50/p99/p99.9/max of round-trip samples, in microseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub samples: usize,
}

impl Latency {
    pub fn of(samples_us: &[u32]) -> Latency {
        assert!(!samples_us.is_empty(), "no latency samples");
        let mut sorted = samples_us.to_vec();
        sorted.sort_unstable();
        Latency {
            p50: percentile(&sorted, 50.0),
            p99: percentile(&sorted, 99.0),
            p999: percentile(&sorted, 99.9),
            max: *sorted.last().expect("samples") as f64,
            samples: sorted.len(),
        }
    }

    /// Per-percentile median over runs (max: the median of the runs' maxima).
    pub fn median(runs: &[Latency]) -> Latency {
        Latency {
            p50: median(&runs.iter().map(|l| l.p50).collect::<Vec<_>>()),
            p99: median(&runs.iter().map(|l| l.p99).collect::<Vec<_>>()),
            p999: median(&runs.iter().map(|l| l.p999).collect::<Vec<_>>()),
            max: median(&runs.iter().map(|l| l.max).collect::<Vec<_>>()),
            samples: runs.iter().map(|l| l.samples).sum(),
        }
    }
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[u32], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64
}

pub fn rate(records: usize, seconds: f64) -> f64 {
    records as f64 / seconds.max(1e-9)
}
