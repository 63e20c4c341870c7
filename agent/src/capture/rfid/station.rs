//! One reader's smoothing inside the pipeline: every tag report goes in, movements come out
//! as what to record — the tag's identifiers, the read that stands for the movement, and the
//! business context changes (bizStep per direction, a zone's readPoint) — for the pipeline to
//! build and store like any other event.
//!
//! A tag is judged once, when it is first seen (filters, then decoding by the device's
//! capture settings): a tag that is filtered out or does not decode is followed like the
//! others, so its next hundred reads cost nothing and it is counted once per pass.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use tracegate_drivers::RawRead;

use super::RfidSettings;
use super::direction::Crossing;
use super::smoothing::{Movement, Seen, Sighting, TagSmoother};
use crate::telemetry::RfidCounters;
use tracegate_identifiers::Identified;

/// What a tag is, decided at its first sighting.
#[derive(Debug, Clone)]
pub enum Judged {
    /// Its movements are recorded.
    Keep(Arc<Identified>),
    /// Filtered out (`epc_schemes`, `epc_company_prefixes`, `epc_hex_mask`).
    Filtered,
    /// It does not decode as the device's capture settings require (counted and logged by
    /// the judge).
    Rejected,
}

#[derive(Debug, Clone)]
struct TagInfo {
    read: RawRead,
    judged: Judged,
}

/// A movement to record as an event.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The read the event is built from: the tag's EPC, the movement's time, peak RSSI.
    pub read: RawRead,
    /// What the tag identifies.
    pub id: Arc<Identified>,
    /// `arrived`, `departed`, `in`, `out` or `undecided`.
    pub movement: &'static str,
    /// The zone, for zone movements.
    pub zone: Option<usize>,
    /// The direction, for crossings.
    pub crossing: Option<Crossing>,
    /// Why the direction could not be told.
    pub undecided: Option<&'static str>,
}

/// A reader's smoothing state.
#[derive(Debug)]
pub struct RfidStation {
    /// Its settings.
    pub settings: Arc<RfidSettings>,
    smoother: TagSmoother<TagInfo>,
    counters: Arc<RfidCounters>,
}

impl RfidStation {
    /// A station for `settings`, counting into `counters`.
    pub fn new(settings: Arc<RfidSettings>, counters: Arc<RfidCounters>) -> Self {
        let smoother = TagSmoother::new(settings.rules.clone(), settings.zones.len());
        RfidStation {
            settings,
            smoother,
            counters,
        }
    }

    /// Tags followed now.
    pub fn population(&self) -> usize {
        self.smoother.population()
    }

    /// Feeds one tag report; `judge` decides a new tag. A movement due now is returned.
    pub fn observe(
        &mut self,
        read: &RawRead,
        judge: impl FnOnce(&RawRead) -> Judged,
    ) -> Option<Recorded> {
        let Some(zone) = self.settings.zone_of(read.meta.antenna) else {
            self.counters.filtered();
            return None;
        };
        let filter = &self.settings.filter;
        if !self.smoother.knows(&read.payload) && !filter.mask_passes(&read.payload) {
            self.counters.filtered();
            return None;
        }
        let sighting = Sighting {
            zone,
            rssi_dbm: read
                .meta
                .rssi_dbm
                .unwrap_or(self.settings.rules.rssi_floor_dbm),
            at: read.mono,
        };
        let counters = &self.counters;
        let seen = self.smoother.observe(&read.payload, sighting, || {
            let judged = judge(read);
            if matches!(judged, Judged::Filtered) {
                counters.filtered();
            }
            TagInfo {
                read: read.clone(),
                judged,
            }
        });
        self.counters.set_present(self.smoother.population());
        match seen {
            Seen::Absorbed => None,
            Seen::BelowFloor => {
                self.counters.below_floor();
                None
            }
            Seen::OverCap => {
                self.counters.over_cap();
                None
            }
            Seen::Movement(m) => self.record(m),
        }
    }

    /// Movements due at `now` (zones left, passes over).
    pub fn expire(&mut self, now: Instant) -> Vec<Recorded> {
        let movements = self.smoother.expire(now);
        self.counters.set_present(self.smoother.population());
        movements
            .into_iter()
            .filter_map(|m| self.record(m))
            .collect()
    }

    fn record(&self, m: Movement<TagInfo>) -> Option<Recorded> {
        let (epc, at, info, movement, zone, crossing, undecided, rssi) = match m {
            Movement::Arrived {
                epc,
                at,
                zone,
                rssi_dbm,
                data,
            } => (epc, at, data, "arrived", Some(zone), None, None, rssi_dbm),
            Movement::Departed {
                epc,
                at,
                zone,
                rssi_dbm,
                data,
            } => (epc, at, data, "departed", Some(zone), None, None, rssi_dbm),
            Movement::Crossed {
                epc,
                at,
                rssi_dbm,
                crossing,
                data,
            } => {
                let movement = crossing.as_str();
                (
                    epc,
                    at,
                    data,
                    movement,
                    None,
                    Some(crossing),
                    None,
                    rssi_dbm,
                )
            }
            Movement::Undecided {
                epc,
                at,
                rssi_dbm,
                why,
                data,
            } => (epc, at, data, "undecided", None, None, Some(why), rssi_dbm),
        };
        let Judged::Keep(id) = info.judged else {
            return None;
        };
        self.counters.movement(movement);
        Some(Recorded {
            read: movement_read(&info.read, epc, at, rssi),
            id,
            movement,
            zone,
            crossing,
            undecided,
        })
    }
}

/// The read an event stands on: the tag's own first report, re-dated to the movement.
fn movement_read(first: &RawRead, epc: Bytes, at: Instant, rssi: f32) -> RawRead {
    let ago = at.elapsed();
    let mut read = first.clone();
    read.payload = epc;
    read.mono = at;
    read.at = SystemTime::now()
        .checked_sub(ago)
        .unwrap_or_else(SystemTime::now);
    read.meta.rssi_dbm = Some(rssi);
    // A movement spans antennas: the zone says where, not one antenna.
    read.meta.antenna = None;
    read.meta.device_time = None;
    read.meta.seen_count = None;
    read
}
