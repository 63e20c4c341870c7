//! Gate direction, vendor-neutral: which way a tag went through a door watched by two zones,
//! an *inside* and an *outside* antenna (or reader), told from its sightings alone.
//!
//! ```text
//!  outside zone              inside zone           a sighting is "strong" when it is within
//!  ───·──●────●────·──────────·──●──────●───▶ t    `strong_within_db` of its zone's peak
//!     weak first strong   (reflection) first  last strong
//!
//!  entry = the zone with the earliest strong sighting, exit = the zone with the latest one
//!  in  : entry outside, exit inside        out : entry inside, exit outside
//!  entry = exit (it turned back, or only looked in), one zone only, a tie → undecided,
//!  reported as a plain observation
//! ```
//!
//! Strong sightings, not first sightings, decide: a reflection can show a tag faintly on the
//! far antenna before it gets there, or after it is through, but a tag is strongest at the
//! antenna it is closest to. A tag that turns back in the doorway is last seen strongly where
//! it came from, so entry and exit are the same zone and nothing is guessed.

use std::time::Instant;

/// Which way a tag went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crossing {
    /// From outside to inside.
    In,
    /// From inside to outside.
    Out,
}

impl Crossing {
    /// `in` or `out`.
    pub fn as_str(self) -> &'static str {
        match self {
            Crossing::In => "in",
            Crossing::Out => "out",
        }
    }
}

/// Most rising RSSI steps kept per zone: enough for a tag's approach to an antenna (a few
/// dB per step); beyond it the oldest go, which can only make a pass undecided, never wrong.
const MAX_RISES: usize = 64;

/// What one zone saw of one tag.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneTrace {
    /// Latest sighting.
    pub last: Instant,
    /// Strongest RSSI.
    pub peak: f32,
    /// Latest sighting within `strong_within_db` of the peak.
    pub last_strong: Instant,
    /// Sightings each stronger than every one before (time, RSSI): the earliest strong
    /// sighting, against whatever the final peak is, is the first of these close enough to it.
    rises: Vec<(Instant, f32)>,
}

impl ZoneTrace {
    /// A trace starting with one sighting.
    pub fn new(rssi: f32, at: Instant) -> Self {
        ZoneTrace {
            last: at,
            peak: rssi,
            last_strong: at,
            rises: vec![(at, rssi)],
        }
    }

    /// Adds a sighting. The peak only rises, so a sighting counted strong against an
    /// earlier, lower peak is never later than the final peak's own instant: what
    /// `last_strong` holds at the end is right for the final peak.
    pub fn see(&mut self, rssi: f32, at: Instant, strong_within_db: f32) {
        self.last = self.last.max(at);
        if rssi > self.peak {
            self.peak = rssi;
            if self.rises.len() == MAX_RISES {
                self.rises.remove(0);
            }
            self.rises.push((at, rssi));
        }
        if rssi >= self.peak - strong_within_db {
            self.last_strong = self.last_strong.max(at);
        }
    }

    /// The earliest sighting within `strong_within_db` of the peak.
    pub fn first_strong(&self, strong_within_db: f32) -> Instant {
        self.rises
            .iter()
            .find(|(_, rssi)| *rssi >= self.peak - strong_within_db)
            .map_or(self.last_strong, |(at, _)| *at)
    }
}

/// The direction of a pass, or why it cannot be told.
pub fn decide(
    inside: &Option<ZoneTrace>,
    outside: &Option<ZoneTrace>,
    strong_within_db: f32,
) -> Result<Crossing, &'static str> {
    let (Some(i), Some(o)) = (inside, outside) else {
        return Err("seen in one zone only");
    };
    let (i_first, o_first) = (
        i.first_strong(strong_within_db),
        o.first_strong(strong_within_db),
    );
    let entry_outside = match o_first.cmp(&i_first) {
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Greater => false,
        std::cmp::Ordering::Equal => return Err("first strong sightings at the same instant"),
    };
    let exit_inside = match i.last_strong.cmp(&o.last_strong) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal => return Err("last strong sightings at the same instant"),
    };
    match (entry_outside, exit_inside) {
        (true, true) => Ok(Crossing::In),
        (false, false) => Ok(Crossing::Out),
        _ => Err("turned back: first and last strong sightings in the same zone"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A zone's trace from (ms, rssi) sightings.
    fn trace(t0: Instant, sightings: &[(u64, f32)]) -> Option<ZoneTrace> {
        let mut it = sightings.iter();
        let &(ms, rssi) = it.next()?;
        let mut z = ZoneTrace::new(rssi, t0 + Duration::from_millis(ms));
        for &(ms, rssi) in it {
            z.see(rssi, t0 + Duration::from_millis(ms), 6.0);
        }
        Some(z)
    }

    #[test]
    fn peaks_order_the_zones() {
        let t0 = Instant::now();
        let outside = trace(t0, &[(0, -60.0), (300, -45.0), (600, -58.0)]);
        let inside = trace(t0, &[(500, -62.0), (900, -44.0), (1200, -60.0)]);
        assert_eq!(decide(&inside, &outside, 6.0), Ok(Crossing::In));
        assert_eq!(decide(&outside, &inside, 6.0), Ok(Crossing::Out));
    }

    #[test]
    fn a_weak_early_reflection_on_the_far_antenna_does_not_reverse_it() {
        let t0 = Instant::now();
        // Coming in: the inside antenna sees a faint reflection before the tag reaches the
        // door; its peak is later, when the tag really passes it.
        let inside = trace(t0, &[(0, -68.0), (900, -44.0), (1200, -60.0)]);
        let outside = trace(t0, &[(100, -60.0), (300, -45.0), (600, -58.0)]);
        assert_eq!(decide(&inside, &outside, 6.0), Ok(Crossing::In));
        // A weak late echo outside after the tag is in does not undo it either.
        let outside = trace(
            t0,
            &[(100, -60.0), (300, -45.0), (600, -58.0), (1500, -66.0)],
        );
        assert_eq!(decide(&inside, &outside, 6.0), Ok(Crossing::In));
    }

    #[test]
    fn equal_peaks_on_both_visits_of_a_turned_back_tag_do_not_fool_it() {
        let t0 = Instant::now();
        let outside = trace(
            t0,
            &[
                (0, -55.0),
                (300, -45.0),
                (700, -55.0),
                (1700, -55.0),
                (2000, -45.0),
                (2300, -55.0),
            ],
        );
        let inside = trace(t0, &[(900, -64.0), (1200, -58.0), (1500, -64.0)]);
        assert!(decide(&inside, &outside, 6.0).is_err());
    }

    #[test]
    fn a_tag_that_turns_back_in_the_doorway_is_undecided() {
        let t0 = Instant::now();
        // Outside, a step into the inside field, and back out strongly.
        let outside = trace(t0, &[(0, -60.0), (300, -45.0), (900, -58.0), (1400, -46.0)]);
        let inside = trace(t0, &[(600, -62.0), (800, -55.0), (1000, -64.0)]);
        assert!(
            decide(&inside, &outside, 6.0)
                .unwrap_err()
                .contains("turned back")
        );
    }

    #[test]
    fn one_zone_only_is_undecided() {
        let t0 = Instant::now();
        assert!(decide(&trace(t0, &[(0, -50.0)]), &None, 6.0).is_err());
        assert!(decide(&None, &None, 6.0).is_err());
    }
}
