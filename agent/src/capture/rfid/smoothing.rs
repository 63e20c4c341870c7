//! Tag smoothing: a fixed reader reports the same tag dozens of times a second per antenna;
//! the platform wants one event per movement. A pure state machine per tag and zone, fed
//! sightings and the time, so it is tested on a scripted clock.
//!
//! ```text
//!            sighting ≥ rssi_floor in zone Z
//!  (absent) ───────────────────────────────▶ (present in Z) ── sightings: last seen, peak ──┐
//!     ▲                                           │                                          │
//!     └──── no sighting in Z for depart_after ◀───┘◀─────────────────────────────────────────┘
//!
//!  zones mode:      Arrived(Z) on entering, Departed(Z) on leaving, per zone
//!  direction mode:  one decision when the tag has left every zone (see `direction`)
//! ```
//!
//! Sightings below the RSSI floor do not count (a tag at the far end of the dock, a
//! reflection). At most `max_tags` tags are tracked; a new tag beyond that is not tracked and
//! is counted, never silently merged.

use std::collections::HashMap;
use std::time::Instant;

use bytes::Bytes;

use super::direction::{self, Crossing, ZoneTrace};

pub use crate::config::rfid::{SmoothingRules, ZoneId};

/// One sighting of a tag.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sighting {
    /// The zone of the antenna that saw it.
    pub zone: ZoneId,
    /// Its RSSI (dBm); a reader that reports none counts as at the floor.
    pub rssi_dbm: f32,
    /// When (the gateway's monotonic clock).
    pub at: Instant,
}

/// A movement the smoother decided, with the data the caller attached to the tag.
#[derive(Debug, Clone, PartialEq)]
pub enum Movement<T> {
    /// The tag entered `zone`.
    Arrived {
        /// The tag.
        epc: Bytes,
        /// When: the sighting that brought it.
        at: Instant,
        /// The zone.
        zone: ZoneId,
        /// The strongest sighting so far.
        rssi_dbm: f32,
        /// The caller's data for the tag.
        data: T,
    },
    /// The tag left `zone` (not seen there for `depart_after`).
    Departed {
        /// The tag.
        epc: Bytes,
        /// When it was last seen there.
        at: Instant,
        /// The zone.
        zone: ZoneId,
        /// Its peak RSSI there.
        rssi_dbm: f32,
        /// The caller's data for the tag.
        data: T,
    },
    /// The tag passed through the gate in a known direction.
    Crossed {
        /// The tag.
        epc: Bytes,
        /// When it was last seen.
        at: Instant,
        /// Its peak RSSI over the pass.
        rssi_dbm: f32,
        /// In or out.
        crossing: Crossing,
        /// The caller's data for the tag.
        data: T,
    },
    /// The tag was seen and left, but which way it went cannot be told: reported as a plain
    /// observation, never guessed.
    Undecided {
        /// The tag.
        epc: Bytes,
        /// When it was last seen.
        at: Instant,
        /// Its peak RSSI over the pass.
        rssi_dbm: f32,
        /// Why.
        why: &'static str,
        /// The caller's data for the tag.
        data: T,
    },
}

/// What became of one sighting.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen<T> {
    /// Part of a movement already under way (or below the floor): nothing to report.
    Absorbed,
    /// Weaker than the floor.
    BelowFloor,
    /// The tag population is at `max_tags`: this new tag is not tracked.
    OverCap,
    /// A movement to report now.
    Movement(Movement<T>),
}

#[derive(Debug)]
struct Tag<T> {
    data: T,
    zones: Vec<Option<ZoneTrace>>,
    present: Vec<bool>,
}

/// The smoother for one reader.
#[derive(Debug)]
pub struct TagSmoother<T> {
    rules: SmoothingRules,
    zones: usize,
    tags: HashMap<Bytes, Tag<T>>,
}

impl<T: Clone> TagSmoother<T> {
    /// A smoother for `zones` zones.
    pub fn new(rules: SmoothingRules, zones: usize) -> Self {
        TagSmoother {
            rules,
            zones: zones.max(1),
            tags: HashMap::new(),
        }
    }

    /// Tags tracked now.
    pub fn population(&self) -> usize {
        self.tags.len()
    }

    /// Whether `epc` is tracked.
    pub fn knows(&self, epc: &[u8]) -> bool {
        self.tags.contains_key(epc)
    }

    /// Feeds one sighting; `data` is asked for once, when the tag is new.
    pub fn observe(&mut self, epc: &Bytes, s: Sighting, data: impl FnOnce() -> T) -> Seen<T> {
        if s.rssi_dbm < self.rules.rssi_floor_dbm {
            return Seen::BelowFloor;
        }
        if !self.tags.contains_key(epc) {
            if self.tags.len() >= self.rules.max_tags {
                return Seen::OverCap;
            }
            self.tags.insert(
                epc.clone(),
                Tag {
                    data: data(),
                    zones: vec![None; self.zones],
                    present: vec![false; self.zones],
                },
            );
        }
        let tag = self.tags.get_mut(epc).expect("inserted");
        let zone = s.zone.min(self.zones - 1);
        let strong = self.rules.strong_within_db;
        match &mut tag.zones[zone] {
            Some(trace) => trace.see(s.rssi_dbm, s.at, strong),
            slot @ None => *slot = Some(ZoneTrace::new(s.rssi_dbm, s.at)),
        }
        let arrived = !tag.present[zone];
        tag.present[zone] = true;
        if arrived && self.rules.direction.is_none() {
            return Seen::Movement(Movement::Arrived {
                epc: epc.clone(),
                at: s.at,
                zone,
                rssi_dbm: s.rssi_dbm,
                data: tag.data.clone(),
            });
        }
        Seen::Absorbed
    }

    /// Movements due at `now`: zones the tags have left, passes that are over.
    pub fn expire(&mut self, now: Instant) -> Vec<Movement<T>> {
        let after = self.rules.depart_after;
        let mut out = Vec::new();
        let mut gone = Vec::new();
        for (epc, tag) in &mut self.tags {
            for zone in 0..self.zones {
                let Some(trace) = &tag.zones[zone] else {
                    continue;
                };
                if tag.present[zone] && now.saturating_duration_since(trace.last) >= after {
                    tag.present[zone] = false;
                    if self.rules.direction.is_none() {
                        out.push(Movement::Departed {
                            epc: epc.clone(),
                            at: trace.last,
                            zone,
                            rssi_dbm: trace.peak,
                            data: tag.data.clone(),
                        });
                    }
                }
            }
            if !tag.present.iter().any(|&p| p) {
                gone.push(epc.clone());
            }
        }
        for epc in gone {
            let tag = self.tags.remove(&epc).expect("listed");
            let at = tag
                .zones
                .iter()
                .flatten()
                .map(|z| z.last)
                .max()
                .unwrap_or(now);
            let rssi_dbm = tag
                .zones
                .iter()
                .flatten()
                .map(|z| z.peak)
                .fold(f32::MIN, f32::max);
            if let Some((inside, outside)) = self.rules.direction {
                let movement = match direction::decide(
                    &tag.zones[inside],
                    &tag.zones[outside],
                    self.rules.strong_within_db,
                ) {
                    Ok(crossing) => Movement::Crossed {
                        epc,
                        at,
                        rssi_dbm,
                        crossing,
                        data: tag.data,
                    },
                    Err(why) => Movement::Undecided {
                        epc,
                        at,
                        rssi_dbm,
                        why,
                        data: tag.data,
                    },
                };
                out.push(movement);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn rules(direction: Option<(ZoneId, ZoneId)>) -> SmoothingRules {
        SmoothingRules {
            rssi_floor_dbm: -70.0,
            depart_after: Duration::from_secs(2),
            max_tags: 3,
            direction,
            strong_within_db: 6.0,
        }
    }

    fn epc(n: u8) -> Bytes {
        Bytes::from(vec![0x30, n])
    }

    #[test]
    fn many_sightings_make_one_arrival_and_one_departure_per_zone() {
        let t0 = Instant::now();
        let mut s = TagSmoother::new(rules(None), 2);
        let mut movements = Vec::new();
        for i in 0..40 {
            let at = t0 + Duration::from_millis(50 * i);
            if let Seen::Movement(m) = s.observe(
                &epc(1),
                Sighting {
                    zone: 0,
                    rssi_dbm: -50.0,
                    at,
                },
                || "tag",
            ) {
                movements.push(m);
            }
            movements.extend(s.expire(at));
        }
        assert_eq!(movements.len(), 1, "{movements:?}");
        assert!(matches!(movements[0], Movement::Arrived { zone: 0, .. }));
        assert!(
            s.expire(t0 + Duration::from_millis(2000)).is_empty(),
            "still there"
        );
        let left = s.expire(t0 + Duration::from_millis(1950 + 2000));
        assert!(
            matches!(left[..], [Movement::Departed { zone: 0, rssi_dbm, .. }] if rssi_dbm == -50.0)
        );
        assert_eq!(s.population(), 0);
    }

    #[test]
    fn sightings_below_the_floor_do_not_count_and_the_population_is_capped() {
        let t0 = Instant::now();
        let mut s = TagSmoother::new(rules(None), 1);
        assert_eq!(
            s.observe(
                &epc(1),
                Sighting {
                    zone: 0,
                    rssi_dbm: -80.0,
                    at: t0
                },
                || ()
            ),
            Seen::BelowFloor
        );
        assert_eq!(s.population(), 0);
        for n in 1..=3 {
            assert!(matches!(
                s.observe(
                    &epc(n),
                    Sighting {
                        zone: 0,
                        rssi_dbm: -60.0,
                        at: t0
                    },
                    || ()
                ),
                Seen::Movement(_)
            ));
        }
        assert_eq!(
            s.observe(
                &epc(4),
                Sighting {
                    zone: 0,
                    rssi_dbm: -60.0,
                    at: t0
                },
                || ()
            ),
            Seen::OverCap
        );
        // A tracked tag is still followed at the cap.
        assert_eq!(
            s.observe(
                &epc(2),
                Sighting {
                    zone: 0,
                    rssi_dbm: -60.0,
                    at: t0
                },
                || ()
            ),
            Seen::Absorbed
        );
    }
}
