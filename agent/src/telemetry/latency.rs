//! A latency histogram with fixed buckets, cheap enough to observe on every outbox commit
//! (a few relaxed atomic adds) and readable at any time for the status report and the
//! Prometheus endpoint.
//!
//! The buckets suit a storage commit on a Pi's SD card or eMMC: well under a millisecond
//! when the page cache absorbs it, tens of milliseconds per fsync on a slow card, seconds
//! when the card is wearing out — which is exactly what this histogram is there to show.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Upper bounds of the buckets, in seconds (`+Inf` is implied).
pub const BUCKETS_S: [f64; 13] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// A histogram of durations.
#[derive(Debug, Default)]
pub struct LatencyHistogram {
    /// Per-bucket (not cumulative) counts; the last slot is `+Inf`.
    counts: [AtomicU64; BUCKETS_S.len() + 1],
    sum_ns: AtomicU64,
}

/// A point-in-time copy of a [`LatencyHistogram`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct LatencySnapshot {
    /// Observations.
    pub count: u64,
    /// Sum of all observations, seconds.
    pub sum_s: f64,
    /// Estimated median, milliseconds (`None` before the first observation).
    pub p50_ms: Option<f64>,
    /// Estimated 99th percentile, milliseconds.
    pub p99_ms: Option<f64>,
    /// Cumulative counts: observations `<= le_s`, ascending, ending with `+Inf` as `None`.
    pub buckets: Vec<Bucket>,
}

/// One cumulative bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// Upper bound in seconds; `None` is `+Inf`.
    pub le_s: Option<f64>,
    /// Observations at or below it.
    pub count: u64,
}

impl LatencyHistogram {
    /// Records one duration.
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        let slot = BUCKETS_S
            .iter()
            .position(|&le| s <= le)
            .unwrap_or(BUCKETS_S.len());
        self.counts[slot].fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(
            u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// The current figures. Concurrent observations may or may not be included; each
    /// bucket is consistent with itself.
    pub fn snapshot(&self) -> LatencySnapshot {
        let mut cumulative = 0;
        let mut buckets = Vec::with_capacity(self.counts.len());
        for (i, count) in self.counts.iter().enumerate() {
            cumulative += count.load(Ordering::Relaxed);
            buckets.push(Bucket {
                le_s: BUCKETS_S.get(i).copied(),
                count: cumulative,
            });
        }
        LatencySnapshot {
            count: cumulative,
            sum_s: self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9,
            p50_ms: quantile(&buckets, 0.5).map(|s| s * 1e3),
            p99_ms: quantile(&buckets, 0.99).map(|s| s * 1e3),
            buckets,
        }
    }
}

/// The `q` quantile estimated from cumulative buckets by linear interpolation within the
/// bucket it falls in — the estimate Prometheus' `histogram_quantile` makes. Falling in the
/// `+Inf` bucket gives the highest finite bound (a lower limit, as there).
fn quantile(buckets: &[Bucket], q: f64) -> Option<f64> {
    let total = buckets.last()?.count;
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let mut lower_bound = 0.0;
    let mut lower_count = 0u64;
    for bucket in buckets {
        let Some(upper) = bucket.le_s else {
            return Some(lower_bound);
        };
        if bucket.count as f64 >= rank {
            let in_bucket = (bucket.count - lower_count) as f64;
            if in_bucket == 0.0 {
                return Some(upper);
            }
            let fraction = (rank - lower_count as f64) / in_bucket;
            return Some(lower_bound + (upper - lower_bound) * fraction);
        }
        lower_bound = upper;
        lower_count = bucket.count;
    }
    Some(lower_bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_right_cumulative_buckets() {
        let h = LatencyHistogram::default();
        h.observe(Duration::from_micros(300)); // ≤ 0.5 ms
        h.observe(Duration::from_millis(1)); // ≤ 1 ms (bounds are inclusive)
        h.observe(Duration::from_millis(40)); // ≤ 50 ms
        h.observe(Duration::from_secs(9)); // +Inf
        let s = h.snapshot();
        assert_eq!(s.count, 4);
        assert!((s.sum_s - 9.0413).abs() < 1e-9, "{}", s.sum_s);
        let at = |le: f64| s.buckets.iter().find(|b| b.le_s == Some(le)).unwrap().count;
        assert_eq!(at(0.0005), 1);
        assert_eq!(at(0.001), 2);
        assert_eq!(at(0.025), 2);
        assert_eq!(at(0.05), 3);
        assert_eq!(at(5.0), 3);
        assert_eq!(
            s.buckets.last().unwrap(),
            &Bucket {
                le_s: None,
                count: 4
            }
        );
    }

    #[test]
    fn quantiles_interpolate_like_prometheus() {
        let h = LatencyHistogram::default();
        // 100 commits spread evenly over (1 ms, 2.5 ms]: the median is halfway through.
        for i in 1..=100u64 {
            h.observe(Duration::from_micros(1000 + i * 15));
        }
        let s = h.snapshot();
        assert!((s.p50_ms.unwrap() - 1.75).abs() < 1e-9, "{:?}", s.p50_ms);
        assert!((s.p99_ms.unwrap() - 2.485).abs() < 1e-9, "{:?}", s.p99_ms);
        assert_eq!(LatencyHistogram::default().snapshot().p50_ms, None);
    }
}
