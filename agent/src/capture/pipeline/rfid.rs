//! The pipeline's side of RFID readers: each tag report goes to the reader's smoothing
//! ([`crate::capture::rfid::station`]); the movements it decides become events in the
//! reader's context, stored like every other event. A tick expires departures; at shutdown
//! the tags still in view are recorded as departed at their last sighting, not lost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde_json::json;
use tokio::sync::mpsc;
use tracegate_drivers::RawRead;

use super::verdict::{self, Verdict};
use super::{Pending, Pipeline};
use crate::capture::rfid::direction::Crossing;
use crate::capture::rfid::station::{Judged, Recorded};
use crate::capture::rfid::{Emit, EpcFilter, RfidSettings};
use crate::config::CaptureSettings;
use crate::telemetry::DeviceStatus;
use crate::telemetry::throttle::{Throttle, Throttled};

/// How often departures are looked for: well inside any `depart_after_ms` (at least 100 ms).
pub const TICK: Duration = Duration::from_millis(100);

/// A new tag's verdict: filters first (cheapest), then decoding by the capture settings.
fn judge_tag(
    read: &RawRead,
    capture: &CaptureSettings,
    filter: &EpcFilter,
    status: &DeviceStatus,
    log: &mut Throttle,
) -> Judged {
    if !filter.mask_passes(&read.payload) {
        return Judged::Filtered;
    }
    match verdict::judge(&read.payload, capture) {
        Verdict::Reject { error, .. } => {
            status.rejected(error.to_string());
            let note = log.check();
            if note != Throttled::Quiet {
                let shown: String = read
                    .payload
                    .escape_ascii()
                    .to_string()
                    .chars()
                    .take(64)
                    .collect();
                tracing::warn!(device = %status.id, tag = %shown, "REFUSED tag: {error}{}", note.note());
            }
            Judged::Rejected
        }
        Verdict::Accept(id) => {
            if filter.needs_id() {
                let passes = id.epc.as_ref().is_some_and(|epc| {
                    filter.id_passes(epc.scheme.pure_name(), &epc.company_prefix)
                });
                if !passes {
                    return Judged::Filtered;
                }
            }
            Judged::Keep(Arc::new(id))
        }
    }
}

impl Pipeline {
    /// One tag report from a reader; false when the feedback task is gone.
    pub(super) async fn rfid_read(
        &mut self,
        read: RawRead,
        pending_tx: &mpsc::Sender<Pending>,
    ) -> bool {
        let Some(station) = self.stations.get_mut(&read.device) else {
            return true;
        };
        let Some(rfid) = station.rfid.as_mut() else {
            return true;
        };
        let settings = rfid.settings.clone();
        if self.live.watching() {
            let zone = settings
                .zone_of(read.meta.antenna)
                .and_then(|z| settings.zones.get(z))
                .map(|z| z.name.as_str());
            let at = Timestamp::try_from(read.at).unwrap_or_else(|_| self.clock.now());
            self.live.tag(
                &read.device,
                &read.payload,
                read.meta.antenna,
                zone,
                read.meta.rssi_dbm,
                at,
            );
        }
        let (capture, status, log) = (&station.capture, &station.status, &mut station.reject_log);
        let mut judge = |r: &RawRead| judge_tag(r, capture, &settings.filter, status, log);
        let recorded = match settings.emit {
            Emit::Movements => rfid.observe(&read, judge),
            // Commissioning: every report is an event (filters still apply).
            Emit::Raw => match judge(&read) {
                Judged::Keep(id) => Some(Recorded {
                    read: read.clone(),
                    id,
                    movement: "read",
                    zone: settings.zone_of(read.meta.antenna),
                    crossing: None,
                    undecided: None,
                }),
                Judged::Filtered | Judged::Rejected => None,
            },
        };
        match recorded {
            Some(r) => self.record_movement(r, &settings, pending_tx).await,
            None => true,
        }
    }

    /// Records the movements due at `now` on every reader.
    pub(super) async fn expire_rfid(
        &mut self,
        now: Instant,
        pending_tx: &mpsc::Sender<Pending>,
    ) -> bool {
        let mut due = Vec::new();
        for station in self.stations.values_mut() {
            if let Some(rfid) = station.rfid.as_mut() {
                let settings = rfid.settings.clone();
                due.extend(rfid.expire(now).into_iter().map(|r| (r, settings.clone())));
            }
        }
        // In the order they happened, across tags and readers.
        due.sort_by_key(|(r, _)| r.read.mono);
        for (recorded, settings) in due {
            if !self.record_movement(recorded, &settings, pending_tx).await {
                return false;
            }
        }
        true
    }

    /// At shutdown: tags still in view are recorded as departed at their last sighting.
    pub(super) async fn flush_rfid(&mut self, pending_tx: &mpsc::Sender<Pending>) {
        if self.has_rfid {
            let far = Instant::now() + Duration::from_secs(24 * 3600);
            let _ = self.expire_rfid(far, pending_tx).await;
        }
    }

    /// Builds and stores the event of one movement; false when the feedback task is gone.
    async fn record_movement(
        &self,
        r: Recorded,
        settings: &RfidSettings,
        pending_tx: &mpsc::Sender<Pending>,
    ) -> bool {
        let device = r.read.device.clone();
        if self.live.watching() {
            self.live.movement(&device, &r.read.payload, r.movement);
        }
        let (Some(status), Some(context)) = (self.devices.get(&device), self.contexts.get(&device))
        else {
            // Every input has both from set_stations on: only a reader removed by a reload
            // between its sighting and this tick gets here.
            tracing::warn!(device = %device, movement = r.movement, "movement of a device no longer configured not recorded");
            return true;
        };
        let mut context = (*context).clone();
        // A crossing ends in the zone it went to: that zone's readPoint, the direction's step.
        let zone = match (r.zone, r.crossing, settings.rules.direction) {
            (Some(z), _, _) => Some(z),
            (None, Some(Crossing::In), Some((inside, _))) => Some(inside),
            (None, Some(Crossing::Out), Some((_, outside))) => Some(outside),
            _ => None,
        };
        let zone = zone.and_then(|z| settings.zones.get(z));
        if let Some(zone) = zone {
            if let Some(rp) = &zone.read_point {
                context.read_point = Some(rp.clone());
            }
            if let Some(bl) = &zone.biz_location {
                context.biz_location = Some(bl.clone());
            }
        }
        if let (Some(crossing), Some(steps)) = (r.crossing, &settings.steps) {
            let i = usize::from(crossing == Crossing::Out);
            context.biz_step = Some(steps.biz_step[i].clone());
            if let Some(d) = &steps.disposition[i] {
                context.disposition = Some(d.clone());
            }
        }
        let at = if self.clock.synced() {
            Timestamp::try_from(r.read.at).unwrap_or_else(|_| self.clock.now())
        } else {
            self.clock.now()
        };
        let mut event = self.builder.read_event(at, &r.read, &r.id, &context);
        let ext = event.extensions_mut();
        ext.insert("tg:movement".into(), json!(r.movement));
        if let Some(zone) = zone {
            ext.insert("tg:zone".into(), json!(zone.name));
        }
        if let Some(why) = r.undecided {
            ext.insert("tg:undecided".into(), json!(why));
        }
        let append = self.capture(event, &r.read, None).await;
        let pending = Pending {
            device: status,
            append,
            read_at: r.read.mono,
            signal: None,
            signals: Some(self.signals.clone()),
            flagged: false,
        };
        pending_tx.send(pending).await.is_ok()
    }
}
