//! Reconnect delays shared by every driver: exponential with jitter, capped, never giving up.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

/// An endless sequence of reconnect delays. `reset` after a connection that worked, so the next
/// outage starts again from the shortest delay.
#[derive(Debug)]
pub struct Reconnect {
    builder: ExponentialBuilder,
    current: backon::ExponentialBackoff,
}

impl Reconnect {
    /// Delays start at `min` and double up to `max`, each with random jitter so that many
    /// gateways (or devices) do not retry in lock-step.
    pub fn new(min: Duration, max: Duration) -> Self {
        let builder = ExponentialBuilder::new()
            .with_min_delay(min)
            .with_max_delay(max)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times();
        Reconnect {
            current: builder.build(),
            builder,
        }
    }

    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        // `without_max_times` makes the iterator endless; the fallback only guards the type.
        self.current.next().unwrap_or(Duration::from_secs(1))
    }

    /// Start again from the shortest delay.
    pub fn reset(&mut self) {
        self.current = self.builder.build();
    }
}

impl Default for Reconnect {
    /// 250 ms doubling to 10 s: fast enough that a replugged scanner is back before the operator
    /// scans again, slow enough not to spin on a device that is gone for good.
    fn default() -> Self {
        Reconnect::new(Duration::from_millis(250), Duration::from_secs(10))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_cap_and_reset() {
        let mut r = Reconnect::new(Duration::from_millis(100), Duration::from_millis(800));
        let first = r.next_delay();
        assert!(first >= Duration::from_millis(100) && first <= Duration::from_millis(200));
        let later: Vec<_> = (0..20).map(|_| r.next_delay()).collect();
        // Jitter adds at most one more delay's worth on top of the cap.
        assert!(later.iter().all(|d| *d <= Duration::from_millis(1600)));
        assert!(later.last().unwrap() >= &Duration::from_millis(800));
        r.reset();
        assert!(r.next_delay() <= Duration::from_millis(200));
    }
}
