//! Rate limits for log lines: a spewing device or a flapping link is counted in status and
//! metrics, and its log lines are kept to a few per window.

/// Keeps a repeated warning from filling the disk: the first `burst` occurrences in a window
/// are logged, the rest only counted, and the next line logged says how many were left out.
/// The exact counts are in status and metrics; the log only has to say it is happening.
///
/// ```text
///  window opens ──▶ burst lines logged ──▶ quiet (counted) ──window over──▶ next line logged
///                                                              "(N more like it were not logged)"
/// ```
#[derive(Debug, Clone)]
pub struct Throttle {
    burst: u32,
    window: std::time::Duration,
    opened: Option<std::time::Instant>,
    logged: u32,
    suppressed: u64,
}

/// What [`Throttle::check`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttled {
    /// Log it; `suppressed` lines like it were left out since the last one logged.
    Log {
        /// How many were counted but not logged before this one.
        suppressed: u64,
    },
    /// Leave it out (it is counted).
    Quiet,
}

impl Throttled {
    /// A suffix for the logged line: empty, or how many like it were left out.
    pub fn note(self) -> String {
        match self {
            Throttled::Log { suppressed } if suppressed > 0 => {
                format!(" ({suppressed} more like this were not logged; see status for counts)")
            }
            _ => String::new(),
        }
    }
}

impl Default for Throttle {
    /// 5 lines per 10 s.
    fn default() -> Self {
        Throttle::new(5, std::time::Duration::from_secs(10))
    }
}

impl Throttle {
    /// At most `burst` lines per `window`.
    pub fn new(burst: u32, window: std::time::Duration) -> Self {
        Throttle {
            burst,
            window,
            opened: None,
            logged: 0,
            suppressed: 0,
        }
    }

    /// Whether to log one more occurrence now.
    pub fn check(&mut self) -> Throttled {
        self.check_at(std::time::Instant::now())
    }

    /// Once the window is over, how many occurrences were left out since the last line
    /// logged (then forgotten): a flood that stops is still summarised.
    pub fn flush(&mut self) -> Option<u64> {
        self.flush_at(std::time::Instant::now())
    }

    /// Whether occurrences were left out that a later [`Throttle::flush`] will summarise.
    pub fn has_suppressed(&self) -> bool {
        self.suppressed > 0
    }

    fn flush_at(&mut self, now: std::time::Instant) -> Option<u64> {
        let over = self
            .opened
            .is_some_and(|opened| now.saturating_duration_since(opened) >= self.window);
        (over && self.suppressed > 0).then(|| std::mem::take(&mut self.suppressed))
    }

    fn check_at(&mut self, now: std::time::Instant) -> Throttled {
        if self
            .opened
            .is_none_or(|opened| now.saturating_duration_since(opened) >= self.window)
        {
            self.opened = Some(now);
            self.logged = 0;
        }
        if self.logged < self.burst {
            self.logged += 1;
            Throttled::Log {
                suppressed: std::mem::take(&mut self.suppressed),
            }
        } else {
            self.suppressed += 1;
            Throttled::Quiet
        }
    }
}

/// One [`Throttle`] per key (a device id): a spewing device does not silence the others.
#[derive(Debug, Default)]
pub struct Throttles {
    by_key: std::collections::HashMap<String, Throttle>,
}

impl Throttles {
    /// Whether to log one more occurrence for `key` now.
    pub fn check(&mut self, key: &str) -> Throttled {
        if let Some(throttle) = self.by_key.get_mut(key) {
            return throttle.check();
        }
        let mut throttle = Throttle::default();
        let verdict = throttle.check();
        self.by_key.insert(key.to_string(), throttle);
        verdict
    }
}

impl Throttles {
    /// Whether any key has occurrences left out, waiting for a summary.
    pub fn has_suppressed(&self) -> bool {
        self.by_key.values().any(Throttle::has_suppressed)
    }

    /// [`Throttle::flush`] for every key: (key, left out) where a window closed on some.
    pub fn flush(&mut self) -> Vec<(String, u64)> {
        self.by_key
            .iter_mut()
            .filter_map(|(key, t)| Some((key.clone(), t.flush()?)))
            .collect()
    }
}

/// A [`Throttle`] shared between tasks.
#[derive(Debug, Default)]
pub struct SharedThrottle(std::sync::Mutex<Throttle>);

impl SharedThrottle {
    /// Whether to log one more occurrence now.
    pub fn check(&self) -> Throttled {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_flood_logs_a_burst_per_window_and_then_says_what_it_left_out() {
        let mut throttle = Throttle::new(3, Duration::from_secs(10));
        let t0 = Instant::now();
        let decisions: Vec<_> = (0..1000).map(|_| throttle.check_at(t0)).collect();
        let logged = decisions.iter().filter(|d| **d != Throttled::Quiet).count();
        assert_eq!(logged, 3);
        // The next window's first line carries the count of the left-out ones.
        let next = throttle.check_at(t0 + Duration::from_secs(10));
        assert_eq!(next, Throttled::Log { suppressed: 997 });
        assert!(next.note().contains("997 more"));
        // Within that window: two more lines, then eight left out.
        for _ in 0..10 {
            throttle.check_at(t0 + Duration::from_secs(10));
        }
        // A flood that stops is summarised once its window is over, and only once.
        assert_eq!(
            throttle.flush_at(t0 + Duration::from_secs(12)),
            None,
            "window open"
        );
        assert_eq!(throttle.flush_at(t0 + Duration::from_secs(20)), Some(8));
        assert_eq!(
            throttle.flush_at(t0 + Duration::from_secs(30)),
            None,
            "said once"
        );
        // The next window starts afresh, with nothing left out to report.
        assert_eq!(
            throttle.check_at(t0 + Duration::from_secs(21)),
            Throttled::Log { suppressed: 0 }
        );
    }

    #[test]
    fn one_key_flooding_does_not_silence_another() {
        let mut throttles = Throttles::default();
        for _ in 0..100 {
            throttles.check("spewing");
        }
        assert_eq!(throttles.check("spewing"), Throttled::Quiet);
        assert_eq!(throttles.check("quiet"), Throttled::Log { suppressed: 0 });
    }
}
