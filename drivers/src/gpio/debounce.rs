//! Debouncing one input line: a level counts once it has held for the debounce time.
//!
//! A push button's contacts bounce for a few milliseconds when pressed and released; a photo-eye
//! flickers at the edge of a pallet; a door contact chatters when the door is slammed. A new
//! level is taken once the line has stayed at it for `window` since its last raw edge; a glitch
//! that goes back to the settled level before that makes no edge at all. The edge is dated by
//! the *first* raw edge of its run — when the beam was broken, not when it stopped bouncing.
//!
//! ```text
//!  Settled(level) ──raw edge at t──▶ Pending { since: t }  (deadline: last raw edge + window)
//!        ▲                               │ more raw edges: deadline moves, `since` stays
//!        │        deadline, raw == level │ (a glitch: no edge, counted)
//!        ├───────────────────────────────┤
//!        └── deadline, raw != level ─────┘ → edge (raw, since): Settled(raw)
//! ```
//!
//! Pure: time comes in as instants, so the tests step a paused clock through bounces.

use std::time::Duration;

use tokio::time::Instant;

/// One line's debouncer.
#[derive(Debug, Clone)]
pub struct Debouncer {
    window: Duration,
    settled: bool,
    raw: bool,
    last_raw_edge: Instant,
    /// The first raw edge away from the settled level, while one is pending.
    pending_since: Option<Instant>,
    glitches: u64,
}

/// A settled change of level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    /// The new level (electrical: high = true).
    pub high: bool,
    /// When its run of raw edges began.
    pub since: Instant,
}

impl Debouncer {
    /// A line whose level is `high` at `now`, debounced over `window` (zero: every change
    /// counts at once).
    pub fn new(high: bool, window: Duration, now: Instant) -> Self {
        Debouncer {
            window,
            settled: high,
            raw: high,
            last_raw_edge: now,
            pending_since: None,
            glitches: 0,
        }
    }

    /// The settled level.
    pub fn level(&self) -> bool {
        self.settled
    }

    /// Glitches filtered so far (runs that went back to the settled level in time).
    pub fn glitches(&self) -> u64 {
        self.glitches
    }

    /// The line was seen at `high` at `at` (an edge; a repeated level is harmless).
    pub fn raw(&mut self, high: bool, at: Instant) -> Option<Settled> {
        if high == self.raw {
            return None;
        }
        self.raw = high;
        self.last_raw_edge = at;
        if self.pending_since.is_none() {
            self.pending_since = Some(at);
        }
        if self.window.is_zero() {
            return self.settle(at);
        }
        None
    }

    /// When [`settle`](Debouncer::settle) has something to decide.
    pub fn deadline(&self) -> Option<Instant> {
        self.pending_since.map(|_| self.last_raw_edge + self.window)
    }

    /// At `now`: the new level if the line has held it for the window.
    pub fn settle(&mut self, now: Instant) -> Option<Settled> {
        let since = self.pending_since?;
        if now < self.last_raw_edge + self.window {
            return None;
        }
        self.pending_since = None;
        if self.raw == self.settled {
            self.glitches += 1;
            return None;
        }
        self.settled = self.raw;
        Some(Settled {
            high: self.raw,
            since,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_bouncing_press_is_one_edge_dated_by_its_first_bounce() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(false, ms(20), t0);
        // Press at 100 ms, bouncing for 3 ms.
        for (at, level) in [
            (100, true),
            (101, false),
            (102, true),
            (103, false),
            (104, true),
        ] {
            assert_eq!(d.raw(level, t0 + ms(at)), None);
        }
        assert_eq!(d.deadline(), Some(t0 + ms(124)));
        assert_eq!(d.settle(t0 + ms(123)), None, "not held long enough yet");
        assert_eq!(
            d.settle(t0 + ms(124)),
            Some(Settled {
                high: true,
                since: t0 + ms(100)
            })
        );
        assert!(d.level());
        assert_eq!(d.deadline(), None, "nothing pending: no wake-up");
    }

    #[test]
    fn a_glitch_shorter_than_the_window_makes_no_edge() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(false, ms(20), t0);
        d.raw(true, t0 + ms(10));
        d.raw(false, t0 + ms(15));
        assert_eq!(d.settle(t0 + ms(35)), None);
        assert!(!d.level());
        assert_eq!(d.glitches(), 1);
        assert_eq!(d.deadline(), None);
    }

    #[test]
    fn a_held_button_is_one_edge_however_long_it_is_held() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(true, ms(10), t0);
        d.raw(false, t0 + ms(5));
        assert!(d.settle(t0 + ms(15)).is_some());
        for later in [100, 1_000, 60_000] {
            assert_eq!(d.raw(false, t0 + ms(later)), None, "a repeated level");
            assert_eq!(d.settle(t0 + ms(later + 10)), None);
        }
        assert!(!d.level());
    }

    #[test]
    fn without_a_window_every_change_is_an_edge_at_once() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(false, Duration::ZERO, t0);
        assert_eq!(
            d.raw(true, t0 + ms(1)),
            Some(Settled {
                high: true,
                since: t0 + ms(1)
            })
        );
        assert!(d.raw(false, t0 + ms(2)).is_some());
    }

    proptest! {
        /// Whatever the bounces, the settled level ends as the last raw level once the line
        /// has been quiet for the window, and edges alternate.
        #[test]
        fn the_settled_level_follows_the_line_once_it_is_quiet(
            gaps in proptest::collection::vec(0u64..40, 0..40)
        ) {
            let t0 = Instant::now();
            let mut d = Debouncer::new(false, ms(20), t0);
            let (mut at, mut level, mut last_edge) = (t0, false, false);
            for gap in gaps {
                at += ms(gap);
                if let Some(e) = d.settle(at) { prop_assert_ne!(e.high, last_edge); last_edge = e.high; }
                level = !level;
                if let Some(e) = d.raw(level, at) { prop_assert_ne!(e.high, last_edge); last_edge = e.high; }
            }
            if let Some(deadline) = d.deadline()
                && let Some(e) = d.settle(deadline)
            {
                prop_assert_ne!(e.high, last_edge);
            }
            prop_assert_eq!(d.level(), level);
        }
    }
}
