//! Rates over a recent window, and millisecond timestamps as RFC 3339.

use std::sync::Mutex;

use jiff::Timestamp;

/// A millisecond Unix time as RFC 3339 with milliseconds; `None` for 0 (never) or out of range.
pub fn ms_to_rfc3339(ms: i64) -> Option<String> {
    (ms > 0)
        .then(|| Timestamp::from_millisecond(ms).ok())
        .flatten()
        .map(|t| format!("{t:.3}"))
}

/// A per-second rate of a growing total over a recent window (by default roughly the last
/// minute), from samples taken when a report is made (at least `step` apart, so a window of
/// hours keeps a few hundred samples).
#[derive(Debug)]
pub struct RateWindow {
    samples: Mutex<std::collections::VecDeque<(std::time::Instant, u64)>>,
    window: std::time::Duration,
    step: std::time::Duration,
}

impl Default for RateWindow {
    fn default() -> Self {
        RateWindow::over(
            std::time::Duration::from_secs(60),
            std::time::Duration::from_secs(1),
        )
    }
}

impl RateWindow {
    pub fn over(window: std::time::Duration, step: std::time::Duration) -> Self {
        RateWindow {
            samples: Mutex::default(),
            window,
            step,
        }
    }

    pub fn rate(&self, total: u64) -> f64 {
        let now = std::time::Instant::now();
        let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        if samples
            .back()
            .is_none_or(|(at, _)| now.duration_since(*at) >= self.step)
        {
            samples.push_back((now, total));
        }
        while samples.len() > 2
            && samples
                .get(1)
                .is_some_and(|(at, _)| now.duration_since(*at) >= self.window)
        {
            samples.pop_front();
        }
        let Some(&(since, base)) = samples.front() else {
            return 0.0;
        };
        let elapsed = now.duration_since(since).as_secs_f64();
        if elapsed < 1.0 {
            return 0.0;
        }
        total.saturating_sub(base) as f64 / elapsed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_publish_rate_is_the_growth_over_the_sampled_window() {
        let w = RateWindow::default();
        assert_eq!(w.rate(0), 0.0, "one sample is no rate");
        // Pretend the first sample was taken 10 s ago.
        {
            let mut samples = w.samples.lock().unwrap();
            let (at, total) = samples.front_mut().unwrap();
            *at -= std::time::Duration::from_secs(10);
            *total = 0;
        }
        let rate = w.rate(500);
        assert!((rate - 50.0).abs() < 0.5, "{rate}");
        // Samples older than the window are dropped, keeping the rate current.
        {
            let mut samples = w.samples.lock().unwrap();
            for (at, _) in samples.iter_mut() {
                *at -= std::time::Duration::from_secs(120);
            }
        }
        w.rate(500);
        assert!(w.samples.lock().unwrap().len() <= 2);
    }
}
