//! What the commissioning page shows live: the latest reads with their verdicts, and each
//! RFID reader's tag table. Written by the pipeline only while someone watches.
//!
//! ```text
//!  pipeline ── watching()? ──no──▶ nothing (one atomic load per read)
//!                  │ yes
//!                  ▼
//!  read(LiveRead) ──▶ ring of the last RING reads (seq numbers; the oldest overwritten)
//!  tag(…), movement(…) ──▶ per reader: one row per EPC (at most TAGS rows)
//!                  ▲
//!  page stream ── reads_since(seq) every batch: the reads after seq, and how many it missed
//! ```
//!
//! The ring is what bounds the page's cost at 10,000 reads/s: the pipeline pays a lock and
//! a push; the page takes at most one batch per interval, and is told how many reads went
//! by unshown instead of being sent them all.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use jiff::Timestamp;
use serde::Serialize;
use tracegate_identifiers::{Mode, Rules};

/// Reads kept for the page (the latest).
pub const RING: usize = 256;

/// Tags kept per reader; a new tag beyond this replaces the one seen longest ago.
pub const TAGS: usize = 500;

/// What became of a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadOutcome {
    /// Valid and recorded as an event (or held until the clock is trusted).
    Recorded,
    /// Valid, kept in the open case until its container is read.
    InCase,
    /// Refused: not recorded; the operator was told.
    Refused,
    /// Invalid but recorded with its error (`on_reject = "flag"`).
    Flagged,
    /// Refused by a bound (the open case is full).
    CaseFull,
    /// The same code again within `dedupe_ms`: dropped.
    Duplicate,
}

/// One read as the page shows it.
#[derive(Debug, Clone)]
pub struct LiveRead {
    /// Its place in the feed (1, 2, …).
    pub seq: u64,
    /// When the gateway read it.
    pub at: Timestamp,
    /// The device that read it.
    pub device: Arc<str>,
    /// The bytes read.
    pub payload: Bytes,
    /// How the device decodes (to show the meaning the pipeline saw).
    pub mode: Mode,
    /// The device's decoding rules.
    pub rules: Rules,
    /// What became of it.
    pub outcome: ReadOutcome,
    /// Why it was refused or flagged.
    pub reason: Option<String>,
    /// The event(s) it became (several: a case in parts).
    pub events: Vec<String>,
}

/// One tag in a reader's view.
#[derive(Debug, Clone, Serialize)]
pub struct TagRow {
    /// The EPC as read (hex when binary).
    #[serde(skip)]
    pub epc: Bytes,
    /// Antenna of the latest report.
    pub antenna: Option<u16>,
    /// Zone of the latest report.
    pub zone: Option<String>,
    /// Strongest signal seen, dBm.
    pub peak_rssi_dbm: Option<f32>,
    /// Signal of the latest report, dBm.
    pub rssi_dbm: Option<f32>,
    /// Reports seen.
    pub reads: u64,
    /// First and latest report.
    pub first_seen: Timestamp,
    /// Latest report.
    pub last_seen: Timestamp,
    /// The latest movement the smoothing decided (arrived, departed, in, out, read).
    pub movement: Option<&'static str>,
}

#[derive(Default)]
struct Inner {
    next: u64,
    reads: VecDeque<LiveRead>,
    tags: HashMap<Arc<str>, HashMap<Bytes, TagRow>>,
}

/// The live feed (one per daemon, shared).
#[derive(Default)]
pub struct LiveFeed {
    watchers: AtomicUsize,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for LiveFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveFeed")
            .field("watchers", &self.watchers.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Someone watching: the feed is written while one of these lives.
#[derive(Debug)]
pub struct Watch(Arc<LiveFeed>);

impl Drop for Watch {
    fn drop(&mut self) {
        if self.0.watchers.fetch_sub(1, Ordering::Relaxed) == 1 {
            // Nobody left: what was kept for them is not kept longer.
            let mut inner = self.0.lock();
            inner.reads.clear();
            inner.tags.clear();
        }
    }
}

impl LiveFeed {
    /// A new feed, watched by nobody.
    pub fn new() -> Arc<LiveFeed> {
        Arc::new(LiveFeed::default())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding it left plain data behind: still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts watching; the feed is written until the returned guard is dropped.
    pub fn watch(self: &Arc<Self>) -> Watch {
        self.watchers.fetch_add(1, Ordering::Relaxed);
        Watch(self.clone())
    }

    /// Whether anyone watches (the pipeline builds nothing for the feed otherwise).
    pub fn watching(&self) -> bool {
        self.watchers.load(Ordering::Relaxed) > 0
    }

    /// Adds a read (its `seq` is assigned here).
    pub fn read(&self, mut read: LiveRead) {
        let mut inner = self.lock();
        inner.next += 1;
        read.seq = inner.next;
        if inner.reads.len() == RING {
            inner.reads.pop_front();
        }
        inner.reads.push_back(read);
    }

    /// The reads after `seq` (at most `max`, the latest), and how many after `seq` are not
    /// among them (overwritten in the ring, or beyond `max`).
    pub fn reads_since(&self, seq: u64, max: usize) -> (Vec<LiveRead>, u64) {
        let inner = self.lock();
        let newer = inner.next.saturating_sub(seq);
        // The ring is in seq order: the newer ones are its tail.
        let in_ring = inner.reads.iter().rev().take_while(|r| r.seq > seq).count();
        let start = inner.reads.len() - in_ring.min(max);
        let reads: Vec<LiveRead> = inner.reads.range(start..).cloned().collect();
        let missed = newer - reads.len() as u64;
        (reads, missed)
    }

    /// The latest read's seq (0: none yet).
    pub fn last_seq(&self) -> u64 {
        self.lock().next
    }

    /// A tag report from `device`.
    pub fn tag(
        &self,
        device: &Arc<str>,
        epc: &Bytes,
        antenna: Option<u16>,
        zone: Option<&str>,
        rssi_dbm: Option<f32>,
        at: Timestamp,
    ) {
        let mut inner = self.lock();
        let table = inner.tags.entry(device.clone()).or_default();
        if !table.contains_key(epc)
            && table.len() >= TAGS
            && let Some(oldest) = table
                .iter()
                .min_by_key(|(_, row)| row.last_seen)
                .map(|(k, _)| k.clone())
        {
            table.remove(&oldest);
        }
        let row = table.entry(epc.clone()).or_insert_with(|| TagRow {
            epc: epc.clone(),
            antenna,
            zone: None,
            peak_rssi_dbm: None,
            rssi_dbm: None,
            reads: 0,
            first_seen: at,
            last_seen: at,
            movement: None,
        });
        row.antenna = antenna;
        // A reader reports the same tag many times a second: allocate only on a change.
        if row.zone.as_deref() != zone {
            row.zone = zone.map(str::to_string);
        }
        row.rssi_dbm = rssi_dbm;
        if let Some(r) = rssi_dbm
            && row.peak_rssi_dbm.is_none_or(|peak| r > peak)
        {
            row.peak_rssi_dbm = Some(r);
        }
        row.reads += 1;
        row.last_seen = at;
    }

    /// A movement the smoothing decided for a tag of `device`.
    pub fn movement(&self, device: &Arc<str>, epc: &Bytes, movement: &'static str) {
        let mut inner = self.lock();
        if let Some(row) = inner.tags.get_mut(device).and_then(|t| t.get_mut(epc)) {
            row.movement = Some(movement);
        }
    }

    /// `device`'s tags, the latest seen first (at most `max`).
    pub fn tags(&self, device: &str, max: usize) -> Vec<TagRow> {
        let inner = self.lock();
        let mut rows: Vec<TagRow> = inner
            .tags
            .get(device)
            .map(|t| t.values().cloned().collect())
            .unwrap_or_default();
        rows.sort_by_key(|row| std::cmp::Reverse(row.last_seen));
        rows.truncate(max);
        rows
    }

    /// The readers that have a tag table.
    pub fn tag_devices(&self) -> Vec<Arc<str>> {
        let mut devices: Vec<_> = self.lock().tags.keys().cloned().collect();
        devices.sort();
        devices
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(device: &str, payload: &str) -> LiveRead {
        LiveRead {
            seq: 0,
            at: Timestamp::UNIX_EPOCH,
            device: device.into(),
            payload: Bytes::copy_from_slice(payload.as_bytes()),
            mode: Mode::Auto,
            rules: Rules::default(),
            outcome: ReadOutcome::Recorded,
            reason: None,
            events: Vec::new(),
        }
    }

    #[test]
    fn nobody_watching_until_a_watch_and_after_it() {
        let feed = LiveFeed::new();
        assert!(!feed.watching());
        let a = feed.watch();
        let b = feed.watch();
        assert!(feed.watching());
        feed.read(read("s", "x"));
        drop(a);
        assert!(feed.watching());
        assert_eq!(feed.reads_since(0, 10).0.len(), 1);
        drop(b);
        assert!(!feed.watching());
        assert!(
            feed.reads_since(0, 10).0.is_empty(),
            "kept nothing for nobody"
        );
    }

    #[test]
    fn a_slow_reader_gets_the_latest_and_the_count_it_missed() {
        let feed = LiveFeed::new();
        let _w = feed.watch();
        for i in 0..1000 {
            feed.read(read("s", &i.to_string()));
        }
        let (reads, missed) = feed.reads_since(0, 50);
        assert_eq!(reads.len(), 50);
        assert_eq!(missed, 950);
        assert_eq!(&reads[49].payload[..], b"999");
        assert_eq!(reads[0].seq, 951);
        let (reads, missed) = feed.reads_since(990, 50);
        assert_eq!((reads.len(), missed), (10, 0));
        assert!(feed.reads_since(1000, 50).0.is_empty());
    }

    #[test]
    fn tag_rows_keep_the_peak_and_count_and_stay_bounded() {
        let feed = LiveFeed::new();
        let _w = feed.watch();
        let dev: Arc<str> = "gate".into();
        let epc = Bytes::from_static(b"3034");
        let t = Timestamp::UNIX_EPOCH;
        feed.tag(&dev, &epc, Some(1), Some("dock"), Some(-60.0), t);
        feed.tag(&dev, &epc, Some(2), None, Some(-70.0), t);
        feed.movement(&dev, &epc, "arrived");
        let rows = feed.tags("gate", 10);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].reads, 2);
        assert_eq!(rows[0].peak_rssi_dbm, Some(-60.0));
        assert_eq!(rows[0].antenna, Some(2));
        assert_eq!(rows[0].movement, Some("arrived"));
        for i in 0..(TAGS + 20) {
            let at = Timestamp::from_second(i as i64 + 10).unwrap();
            feed.tag(&dev, &Bytes::from(i.to_string()), None, None, None, at);
        }
        assert_eq!(feed.tags("gate", usize::MAX).len(), TAGS);
        assert_eq!(feed.tag_devices(), vec![dev]);
    }
}
