//! Whether the wall clock can be trusted for `eventTime`, and how to date reads when it cannot.
//!
//! A Raspberry Pi has no real-time clock: it boots at the time it last saved (or 1970) and is
//! right only once NTP has synchronised it, which on a flaky uplink can take hours. Reads made
//! before that are *held*: captured durably with the monotonic boot-time clock and the boot
//! they belong to, not published. Once the clock is synchronised they are *released*: within
//! the same boot their true time is exactly `now − (boottime_now − boottime_at_read)`; a read
//! from an earlier boot that never synchronised can only be estimated, and says so
//! (`tg:timeEstimated: true`), dated no earlier than the last time the clock was known good.
//! 1970-era or otherwise untrusted times are never published as if they were true.
//!
//! ```text
//!            read                  sync_check says synchronised
//!   ┌────────────────┐  clock bad  ┌──────────────┐  ─────────────▶ ┌──────────────────────┐
//!   │ now ≥ floor and │ ──────────▶ │ held (outbox │                 │ released in read      │
//!   │ synchronised?   │             │ table, fsync)│                 │ order: time corrected │
//!   └────────────────┘             └──────────────┘                 │ (same boot) or        │
//!          │ yes                                                     │ estimated (older boot)│
//!          ▼                                                         └──────────────────────┘
//!     event with the read's wall time
//! ```

use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use jiff::Timestamp;

use crate::config::SyncCheck;

/// No gateway running this build can truly be earlier than this; earlier wall times are a
/// clock that has not been set.
pub const FLOOR: &str = "2026-11-01T00:00:00Z";

/// The floor as a timestamp.
pub fn floor() -> Timestamp {
    FLOOR.parse().expect("valid floor")
}

/// A clock the pipeline can ask.
pub trait Clock: Send + Sync + Debug {
    /// The wall clock.
    fn now(&self) -> Timestamp;
    /// Nanoseconds of `CLOCK_BOOTTIME` (monotonic, counts suspend, restarts at boot).
    fn boottime_ns(&self) -> i64;
    /// This boot's id.
    fn boot_id(&self) -> Arc<str>;
    /// Whether [`Clock::now`] is right.
    fn synced(&self) -> bool;

    /// `CLOCK_BOOTTIME` at the moment `mono` (an `Instant` taken by a driver at the read).
    fn boottime_at(&self, mono: Instant) -> i64 {
        let ago = Instant::now().saturating_duration_since(mono);
        self.boottime_ns() - i64::try_from(ago.as_nanos()).unwrap_or(i64::MAX)
    }
}

/// The system clock, judged by `[clock] sync_check`.
#[derive(Debug)]
pub struct SystemClock {
    check: SyncCheck,
    boot_id: Arc<str>,
    floor: Timestamp,
}

impl SystemClock {
    /// The system clock with `check`.
    pub fn new(check: SyncCheck) -> Self {
        let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown-boot".into());
        SystemClock {
            check,
            boot_id: boot_id.into(),
            floor: floor(),
        }
    }
}

/// The flag file systemd-timesyncd creates once it has synchronised the clock
/// (systemd-timesyncd.service(8)).
pub const TIMESYNCD_FLAG: &str = "/run/systemd/timesync/synchronized";

/// The kernel's view: `adjtimex` reports `TIME_ERROR` / `STA_UNSYNC` until a time daemon
/// (systemd-timesyncd, chrony, ntpd) has synchronised the clock. Where the sandbox refuses
/// `adjtimex` (the shipped unit sets `ProtectClock=yes`, which filters every clock system
/// call, reading ones included), systemd-timesyncd's flag file answers instead; a gateway
/// that runs chrony or ntpd allows the call back in a drop-in (README, "Clock").
fn kernel_synced() -> bool {
    // SAFETY: adjtimex with modes = 0 only reads; the struct is zero-initialised as required.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    let state = unsafe { libc::adjtimex(&mut tx) };
    if state == -1 {
        return std::path::Path::new(TIMESYNCD_FLAG).exists();
    }
    state != libc::TIME_ERROR && tx.status & libc::STA_UNSYNC == 0
}

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::try_from(SystemTime::now()).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn boottime_ns(&self) -> i64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a valid clock id and a valid out-pointer.
        unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
        // time_t and c_long are 32 bits on armv7: the casts are needed there.
        #[allow(clippy::unnecessary_cast)]
        let ns = ts.tv_sec as i64 * 1_000_000_000 + ts.tv_nsec as i64;
        ns
    }

    fn boot_id(&self) -> Arc<str> {
        self.boot_id.clone()
    }

    fn synced(&self) -> bool {
        self.now() >= self.floor
            && match self.check {
                SyncCheck::Trust => true,
                SyncCheck::Kernel => kernel_synced(),
            }
    }
}

/// A clock a test sets by hand.
#[derive(Debug)]
pub struct TestClock(Mutex<TestClockState>);

#[derive(Debug, Clone)]
struct TestClockState {
    wall: Timestamp,
    boottime_ns: i64,
    boot_id: Arc<str>,
    synced: bool,
}

impl TestClock {
    /// A clock at `wall`, synchronised or not, at boot time 1 s of boot `boot`.
    pub fn new(wall: Timestamp, synced: bool, boot: &str) -> Self {
        TestClock(Mutex::new(TestClockState {
            wall,
            boottime_ns: 1_000_000_000,
            boot_id: boot.into(),
            synced,
        }))
    }

    fn with<R>(&self, f: impl FnOnce(&mut TestClockState) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Lets `ms` pass on both clocks.
    pub fn advance_ms(&self, ms: i64) {
        self.with(|s| {
            s.wall = Timestamp::from_millisecond(s.wall.as_millisecond() + ms).expect("in range");
            s.boottime_ns += ms * 1_000_000;
        });
    }

    /// NTP steps the wall clock to `wall` and reports it synchronised.
    pub fn sync_to(&self, wall: Timestamp) {
        self.with(|s| {
            s.wall = wall;
            s.synced = true;
        });
    }

    /// A reboot: new boot id, boot time restarts, the wall clock back to `wall`, unsynchronised.
    pub fn reboot(&self, boot: &str, wall: Timestamp) {
        self.with(|s| {
            s.boot_id = boot.into();
            s.boottime_ns = 1_000_000_000;
            s.wall = wall;
            s.synced = false;
        });
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        self.with(|s| s.wall)
    }
    fn boottime_ns(&self) -> i64 {
        self.with(|s| s.boottime_ns)
    }
    fn boot_id(&self) -> Arc<str> {
        self.with(|s| s.boot_id.clone())
    }
    fn synced(&self) -> bool {
        self.with(|s| s.synced)
    }
    fn boottime_at(&self, _mono: Instant) -> i64 {
        // Test reads happen "now" on the test clock.
        self.boottime_ns()
    }
}

/// The true time of a read held at boot time `boottime_ns` of boot `boot_id`, given the clock
/// now; `None` when the read belongs to another boot (it can only be estimated).
pub fn corrected_time(clock: &dyn Clock, boot_id: &str, boottime_ns: i64) -> Option<Timestamp> {
    if &*clock.boot_id() != boot_id {
        return None;
    }
    let ago_ns = clock.boottime_ns() - boottime_ns;
    let now = clock.now().as_nanosecond();
    Timestamp::from_nanosecond(now - i128::from(ago_ns)).ok()
}

/// The best estimate for a read of an earlier boot that never synchronised: its own wall time
/// if plausible, but no earlier than the last time the clock was known good or the floor.
pub fn estimated_time(wall_ms: i64, last_good_ms: Option<i64>) -> Timestamp {
    let floor = floor().as_millisecond();
    let ms = wall_ms.max(last_good_ms.unwrap_or(floor)).max(floor);
    Timestamp::from_millisecond(ms).unwrap_or_else(|_| crate::clock::floor())
}

/// What to tell the operator of a gateway whose clock is not trusted, the clock reading
/// `now`. A clock below [`FLOOR`] has not been set at all (no real-time clock, no NTP yet),
/// whatever `sync_check` says: `trust` cannot help then, and the advice must not suggest it.
pub fn advice(config: &crate::config::ClockConfig, now: Timestamp) -> String {
    let hold = match config.max_hold_s {
        Some(s) => format!(" for up to {s} s (max_hold_s), then published flagged as estimated"),
        None => " until it is".to_string(),
    };
    if now < floor() {
        return format!(
            "the clock reads {now}, earlier than any real date for this build ({FLOOR}): it has \
             not been set (no real-time clock, no NTP yet), so reads are held and not \
             published{hold}. Run an NTP client (systemd-timesyncd, chrony) that can reach a \
             time server, or set the clock; held reads are then dated by when they were read"
        );
    }
    format!(
        "the clock is not known to be synchronised ([clock] sync_check = \"{}\"), so reads are \
         held and not published{hold}. Run an NTP client (systemd-timesyncd, chrony); or, if this \
         clock is right (a battery-backed RTC), set sync_check = \"trust\" in [clock]",
        config.sync_check.as_str(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_never_set_is_told_to_be_set_not_trusted() {
        let config = crate::config::ClockConfig {
            sync_check: SyncCheck::Trust,
            ..Default::default()
        };
        let unset = advice(&config, Timestamp::UNIX_EPOCH);
        assert!(unset.contains("1970-01-01T00:00:00Z"), "{unset}");
        assert!(unset.contains("has not been set"), "{unset}");
        assert!(!unset.contains("set sync_check"), "{unset}");
        let unsynced = advice(
            &crate::config::ClockConfig {
                sync_check: SyncCheck::Kernel,
                ..Default::default()
            },
            floor(),
        );
        assert!(
            unsynced.contains("set sync_check = \"trust\""),
            "{unsynced}"
        );
    }

    #[test]
    fn held_reads_of_this_boot_are_dated_exactly() {
        let clock = TestClock::new("1970-01-01T00:05:00Z".parse().unwrap(), false, "boot-a");
        let read_at = clock.boottime_ns();
        clock.advance_ms(90_000);
        clock.sync_to("2026-11-26T08:00:00Z".parse().unwrap());
        assert_eq!(
            corrected_time(&clock, "boot-a", read_at),
            Some("2026-11-26T07:58:30Z".parse().unwrap())
        );
        clock.reboot("boot-b", "1970-01-01T00:00:10Z".parse().unwrap());
        assert_eq!(corrected_time(&clock, "boot-a", read_at), None);
    }

    #[test]
    fn estimates_never_go_below_what_is_known() {
        let last_good = "2026-11-25T18:00:00Z"
            .parse::<Timestamp>()
            .unwrap()
            .as_millisecond();
        // A 1970 wall time is not believed.
        assert_eq!(
            estimated_time(300_000, Some(last_good)).as_millisecond(),
            last_good
        );
        // A plausible later wall time is kept.
        let later = last_good + 60_000;
        assert_eq!(
            estimated_time(later, Some(last_good)).as_millisecond(),
            later
        );
        assert_eq!(estimated_time(0, None), floor());
    }

    #[test]
    fn the_system_clock_is_judged_by_the_configured_check() {
        let trust = SystemClock::new(SyncCheck::Trust);
        assert!(trust.synced(), "this machine's clock is past the floor");
        assert!(!trust.boot_id().is_empty());
        let a = trust.boottime_ns();
        let b = trust.boottime_ns();
        assert!(b >= a && a > 0);
        // The kernel check reads adjtimex without failing, whatever it says here.
        let _ = SystemClock::new(SyncCheck::Kernel).synced();
    }
}
