//! Percentiles of setup times.

use serde::Serialize;

/// Percentiles of a set of durations in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Percentiles {
    pub count: usize,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    /// Nearest-rank percentiles (the smallest sample with at least p% of the samples at
    /// or below it); all zero when there are no samples.
    pub fn of(samples: &mut [f64]) -> Percentiles {
        if samples.is_empty() {
            return Percentiles::default();
        }
        samples.sort_by(f64::total_cmp);
        Percentiles {
            count: samples.len(),
            p50: nearest_rank(samples, 50.0),
            p95: nearest_rank(samples, 95.0),
            p99: nearest_rank(samples, 99.0),
            max: samples[samples.len() - 1],
        }
    }
}

/// The nearest-rank percentile `p` (0–100) of sorted, non-empty `sorted`.
pub fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    sorted[rank.clamp(1, n) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_zero() {
        assert_eq!(Percentiles::of(&mut []), Percentiles::default());
    }

    #[test]
    fn one_sample_is_every_percentile() {
        let p = Percentiles::of(&mut [7.0]);
        assert_eq!(
            (p.count, p.p50, p.p95, p.p99, p.max),
            (1, 7.0, 7.0, 7.0, 7.0)
        );
    }

    #[test]
    fn hundred_samples() {
        // 1..=100 shuffled: p50 is 50, p95 is 95, p99 is 99.
        let mut v: Vec<f64> = (1..=100).map(|i| ((i * 37) % 100 + 1) as f64).collect();
        let p = Percentiles::of(&mut v);
        assert_eq!((p.p50, p.p95, p.p99, p.max), (50.0, 95.0, 99.0, 100.0));
    }

    #[test]
    fn small_sets_round_up() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(nearest_rank(&v, 50.0), 2.0);
        assert_eq!(nearest_rank(&v, 51.0), 3.0);
        assert_eq!(nearest_rank(&v, 99.0), 4.0);
        assert_eq!(nearest_rank(&v, 0.0), 1.0);
    }

    #[test]
    fn a_slow_tail_shows_in_p99_only() {
        let mut v: Vec<f64> = std::iter::repeat_n(10.0, 990)
            .chain(std::iter::repeat_n(500.0, 10))
            .collect();
        let p = Percentiles::of(&mut v);
        assert_eq!((p.p50, p.p95, p.p99, p.max), (10.0, 10.0, 10.0, 500.0));
        v.push(500.0);
        v.push(500.0);
        let p = Percentiles::of(&mut v);
        assert_eq!(p.p99, 500.0);
    }
}
