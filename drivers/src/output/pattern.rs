//! What an output line shows: a [`Pattern`] (steady, blink, a pulse, N pulses) and the
//! [`Layers`] that decide, by priority, which of several requests a line shows now.
//!
//! A line can be asked for several things at once — a fault condition wants the red light
//! steady, a scan wants it pulsed, an operator wants it off. Each request is a *layer* with an
//! owner (the rule or command that set it) and a priority; the line shows the highest-priority
//! layer (among equals, the latest), so a "captured" pulse never hides a fault. A layer ends
//! when its owner clears it, when its time (`for`) runs out, or when a finite pattern (a pulse,
//! N pulses) is done; the line then shows the next layer down, or off.
//!
//! ```text
//!   set(owner, priority, pattern, for) ──▶ layer ─┐
//!   clear(owner) ──────────────────────▶ removed   ├─▶ top layer ──▶ level_at(now) ──▶ line
//!   deadline (for, pattern done) ───────▶ removed ─┘    (highest priority, then latest)
//! ```
//!
//! Everything here is pure: time comes in as an [`Instant`], so the tests run on instants they
//! make, and the driver sleeps exactly until [`Layers::next_change`].

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use tokio::time::Instant;

/// Longest time a pattern's step may take (an hour): longer is a mistake in a config file.
pub const MAX_STEP_MS: u64 = 3_600_000;
/// Most pulses one pattern may have.
pub const MAX_PULSES: u32 = 100;

/// How a line behaves while its layer is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pattern {
    /// Off (a layer can hold a line off above lower layers).
    Off,
    /// On, steady.
    On,
    /// On for `ms`, off for `ms`, repeated while shown.
    Blink {
        /// Half the period: how long each on and each off lasts.
        ms: u64,
    },
    /// `count` pulses of `on_ms` on and `off_ms` off, then done (the layer ends).
    Pulses {
        /// How many.
        count: u32,
        /// On time of each.
        on_ms: u64,
        /// Off time after each (the last one's ends the pattern).
        off_ms: u64,
    },
}

impl Pattern {
    /// One pulse of `ms`.
    pub fn pulse(ms: u64) -> Pattern {
        Pattern::Pulses {
            count: 1,
            on_ms: ms,
            off_ms: 0,
        }
    }

    /// Whether the pattern ends by itself (pulses do; steady, off and blink last).
    pub fn is_finite(&self) -> bool {
        matches!(self, Pattern::Pulses { .. })
    }

    /// How long a finite pattern runs.
    pub fn length(&self) -> Option<Duration> {
        match *self {
            Pattern::Pulses {
                count,
                on_ms,
                off_ms,
            } => Some(Duration::from_millis(
                u64::from(count) * (on_ms + off_ms) - off_ms,
            )),
            _ => None,
        }
    }

    /// The level `elapsed` after the pattern started, and how long until it next changes
    /// (`None`: never, while shown).
    pub fn level_at(&self, elapsed: Duration) -> (bool, Option<Duration>) {
        let ms = |d: u64| Duration::from_millis(d);
        match *self {
            Pattern::Off => (false, None),
            Pattern::On => (true, None),
            Pattern::Blink { ms: half } => {
                let half = ms(half);
                let n = elapsed.as_nanos() / half.as_nanos();
                let into = elapsed - half * n as u32;
                (n.is_multiple_of(2), Some(half - into))
            }
            Pattern::Pulses {
                count,
                on_ms,
                off_ms,
            } => {
                let end = self.length().expect("pulses are finite");
                if elapsed >= end {
                    return (false, None);
                }
                let period = ms(on_ms + off_ms);
                let n = (elapsed.as_nanos() / period.as_nanos()) as u32;
                let into = elapsed - period * n;
                if into < ms(on_ms) {
                    (true, Some(ms(on_ms) - into))
                } else if n + 1 >= count {
                    (false, None)
                } else {
                    (false, Some(period - into))
                }
            }
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Pattern::Off => write!(f, "off"),
            Pattern::On => write!(f, "on"),
            Pattern::Blink { ms } => write!(f, "blink {ms}ms"),
            Pattern::Pulses {
                count: 1, on_ms, ..
            } => write!(f, "pulse {on_ms}ms"),
            Pattern::Pulses {
                count,
                on_ms,
                off_ms,
            } if on_ms == off_ms => write!(f, "pulses {count}x{on_ms}ms"),
            Pattern::Pulses {
                count,
                on_ms,
                off_ms,
            } => write!(f, "pulses {count}x{on_ms}ms/{off_ms}ms"),
        }
    }
}

/// Why a pattern's text is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not an output pattern; write \"on\", \"off\", \"blink 250ms\", \"pulse 200ms\", \"pulses 3x100ms\" or \"pulses 3x100ms/400ms\" (times 1 ms to 1 h, at most 100 pulses)"
)]
pub struct BadPattern(pub String);

/// `120ms`, `2s` → milliseconds within 1..=MAX_STEP_MS.
fn duration_ms(text: &str) -> Option<u64> {
    let (digits, scale) = if let Some(d) = text.strip_suffix("ms") {
        (d, 1)
    } else if let Some(d) = text.strip_suffix('s') {
        (d, 1000)
    } else {
        return None;
    };
    // Digits only: `u64::from_str` would also take a leading `+`.
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let ms = digits.parse::<u64>().ok()?.checked_mul(scale)?;
    (1..=MAX_STEP_MS).contains(&ms).then_some(ms)
}

impl FromStr for Pattern {
    type Err = BadPattern;

    fn from_str(text: &str) -> Result<Pattern, BadPattern> {
        let bad = || BadPattern(text.to_string());
        let mut words = text.split_whitespace();
        let pattern = match (words.next(), words.next()) {
            (Some("off"), None) => Pattern::Off,
            (Some("on" | "steady"), None) => Pattern::On,
            (Some("blink"), Some(t)) => Pattern::Blink {
                ms: duration_ms(t).ok_or_else(bad)?,
            },
            (Some("pulse"), Some(t)) => Pattern::pulse(duration_ms(t).ok_or_else(bad)?),
            (Some("pulses"), Some(spec)) => {
                let (count, times) = spec.split_once('x').ok_or_else(bad)?;
                if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
                let count: u32 = count.parse().map_err(|_| bad())?;
                if !(1..=MAX_PULSES).contains(&count) {
                    return Err(bad());
                }
                let (on, off) = match times.split_once('/') {
                    Some((on, off)) => (on, off),
                    None => (times, times),
                };
                let (on_ms, off_ms) = (
                    duration_ms(on).ok_or_else(bad)?,
                    duration_ms(off).ok_or_else(bad)?,
                );
                // One pulse has no gap after it: the same pattern as `pulse`, one spelling.
                if count == 1 {
                    Pattern::pulse(on_ms)
                } else {
                    Pattern::Pulses {
                        count,
                        on_ms,
                        off_ms,
                    }
                }
            }
            _ => return Err(bad()),
        };
        if words.next().is_some() {
            return Err(bad());
        }
        Ok(pattern)
    }
}

/// One request on a line.
#[derive(Debug, Clone, PartialEq)]
struct Layer {
    owner: String,
    priority: u8,
    pattern: Pattern,
    started: Instant,
    /// When the layer ends by itself (its `for`, or a finite pattern's end).
    until: Option<Instant>,
    /// Order of setting, for ties between equal priorities: the latest wins.
    order: u64,
}

/// What a line shows now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// The pattern of the top layer (`Off` when there is none).
    pub pattern: Pattern,
    /// Who set it (`None` when no layer is left).
    pub owner: Option<String>,
    /// Its level now.
    pub level: bool,
}

/// The layers of one line.
#[derive(Debug, Clone, Default)]
pub struct Layers {
    layers: Vec<Layer>,
    next_order: u64,
}

/// Most layers one line keeps: each owner has one, so this bounds owners, not requests.
pub const MAX_LAYERS: usize = 64;

impl Layers {
    /// Sets `owner`'s layer (replacing the one it had) at `priority`, showing `pattern` from
    /// `now`, for `for_time` if given. False when the line already has [`MAX_LAYERS`] other
    /// owners' layers.
    pub fn set(
        &mut self,
        owner: &str,
        priority: u8,
        pattern: Pattern,
        for_time: Option<Duration>,
        now: Instant,
    ) -> bool {
        self.layers.retain(|l| l.owner != owner);
        if self.layers.len() >= MAX_LAYERS {
            return false;
        }
        let ends = [for_time, pattern.length()]
            .into_iter()
            .flatten()
            .min()
            .map(|d| now + d);
        self.next_order += 1;
        self.layers.push(Layer {
            owner: owner.to_string(),
            priority,
            pattern,
            started: now,
            until: ends,
            order: self.next_order,
        });
        true
    }

    /// Removes `owner`'s layer; false when it had none.
    pub fn clear(&mut self, owner: &str) -> bool {
        let before = self.layers.len();
        self.layers.retain(|l| l.owner != owner);
        self.layers.len() != before
    }

    /// Removes every layer (the safe state).
    pub fn clear_all(&mut self) {
        self.layers.clear();
    }

    /// Drops the layers that have ended by `now`.
    fn expire(&mut self, now: Instant) {
        self.layers.retain(|l| l.until.is_none_or(|u| u > now));
    }

    fn top(&self) -> Option<&Layer> {
        self.layers.iter().max_by_key(|l| (l.priority, l.order))
    }

    /// What the line shows at `now` (ended layers are dropped first).
    pub fn shown(&mut self, now: Instant) -> Shown {
        self.expire(now);
        match self.top() {
            None => Shown {
                pattern: Pattern::Off,
                owner: None,
                level: false,
            },
            Some(top) => Shown {
                pattern: top.pattern,
                owner: Some(top.owner.clone()),
                level: top.pattern.level_at(now - top.started).0,
            },
        }
    }

    /// The next instant at which what the line shows may change (a step of the top pattern,
    /// or any layer ending); `None` when nothing will change by itself.
    pub fn next_change(&mut self, now: Instant) -> Option<Instant> {
        self.expire(now);
        let step = self
            .top()
            .and_then(|top| top.pattern.level_at(now - top.started).1)
            .map(|d| now + d);
        self.layers.iter().filter_map(|l| l.until).chain(step).min()
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
    fn patterns_parse_from_the_config_spellings_and_print_back() {
        for (text, pattern) in [
            ("off", Pattern::Off),
            ("on", Pattern::On),
            ("blink 250ms", Pattern::Blink { ms: 250 }),
            ("pulse 2s", Pattern::pulse(2000)),
            (
                "pulses 3x100ms",
                Pattern::Pulses {
                    count: 3,
                    on_ms: 100,
                    off_ms: 100,
                },
            ),
            (
                "pulses 2x50ms/400ms",
                Pattern::Pulses {
                    count: 2,
                    on_ms: 50,
                    off_ms: 400,
                },
            ),
        ] {
            assert_eq!(text.parse::<Pattern>(), Ok(pattern), "{text}");
            assert_eq!(pattern.to_string().parse::<Pattern>(), Ok(pattern));
        }
        assert_eq!("steady".parse::<Pattern>(), Ok(Pattern::On));
        // Found by the fuzzer: one pulse is a pulse whatever its gap, and prints back as one.
        let one = "pulses\t1x+909s".replace('+', "");
        assert_eq!(one.parse::<Pattern>(), Ok(Pattern::pulse(909_000)));
        assert_eq!(Pattern::pulse(909_000).to_string(), "pulse 909000ms");
        for bad in [
            "",
            "blink",
            "blink 0ms",
            "blink 2h",
            "pulse 10",
            "pulses 0x10ms",
            "pulses 101x10ms",
            "pulses 3x",
            "on now",
            "pulses 3x10ms/",
            "pulses\t1x+909s",
            "blink +5ms",
            "pulses +2x5ms",
        ] {
            assert!(bad.parse::<Pattern>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn blink_alternates_every_half_period() {
        let p = Pattern::Blink { ms: 250 };
        assert_eq!(p.level_at(ms(0)), (true, Some(ms(250))));
        assert_eq!(p.level_at(ms(100)), (true, Some(ms(150))));
        assert_eq!(p.level_at(ms(250)), (false, Some(ms(250))));
        assert_eq!(p.level_at(ms(760)), (false, Some(ms(240))));
        assert_eq!(p.level_at(ms(1010)), (true, Some(ms(240))));
    }

    #[test]
    fn pulses_run_their_count_then_stay_off() {
        let p = Pattern::Pulses {
            count: 3,
            on_ms: 100,
            off_ms: 50,
        };
        assert_eq!(p.length(), Some(ms(400)));
        assert_eq!(p.level_at(ms(0)), (true, Some(ms(100))));
        assert_eq!(p.level_at(ms(100)), (false, Some(ms(50))));
        assert_eq!(p.level_at(ms(150)), (true, Some(ms(100))));
        assert_eq!(p.level_at(ms(350)), (true, Some(ms(50))));
        assert_eq!(p.level_at(ms(400)), (false, None));
    }

    #[test]
    fn the_highest_priority_layer_is_shown_and_a_pulse_never_hides_a_fault() {
        let t0 = Instant::now();
        let mut line = Layers::default();
        line.set("fault", 40, Pattern::On, None, t0);
        line.set("captured", 10, Pattern::pulse(200), None, t0 + ms(10));
        let shown = line.shown(t0 + ms(20));
        assert_eq!(shown.owner.as_deref(), Some("fault"));
        assert!(shown.level);
        // The fault clears while the pulse still runs: the pulse shows for the rest of it.
        assert!(line.clear("fault"));
        assert_eq!(line.shown(t0 + ms(100)).owner.as_deref(), Some("captured"));
        assert_eq!(line.next_change(t0 + ms(100)), Some(t0 + ms(210)));
        let after = line.shown(t0 + ms(210));
        assert_eq!((after.owner, after.level), (None, false));
        assert_eq!(
            line.next_change(t0 + ms(210)),
            None,
            "nothing left to wake for"
        );
    }

    #[test]
    fn equal_priorities_show_the_latest_and_a_timed_layer_falls_back_to_the_one_below() {
        let t0 = Instant::now();
        let mut line = Layers::default();
        line.set("command", 0, Pattern::On, None, t0);
        line.set("command-timed", 0, Pattern::Off, Some(ms(300)), t0 + ms(5));
        assert!(!line.shown(t0 + ms(10)).level, "the later request shows");
        assert_eq!(line.next_change(t0 + ms(10)), Some(t0 + ms(305)));
        let back = line.shown(t0 + ms(305));
        assert_eq!(back.owner.as_deref(), Some("command"));
        assert!(
            back.level,
            "back to the level below when the timed one ends"
        );
    }

    #[test]
    fn an_owner_has_one_layer_and_the_number_of_owners_is_bounded() {
        let t0 = Instant::now();
        let mut line = Layers::default();
        for i in 0..MAX_LAYERS {
            assert!(line.set(&format!("o{i}"), 1, Pattern::On, None, t0));
        }
        assert!(
            line.set("o0", 2, Pattern::Off, None, t0),
            "replacing is fine"
        );
        assert!(!line.set("one-too-many", 1, Pattern::On, None, t0));
        line.clear_all();
        assert_eq!(line.shown(t0).owner, None);
    }

    proptest! {
        /// Whatever the pattern, stepping from change to change never goes backwards and a
        /// finite one ends at its length.
        #[test]
        fn stepping_through_a_pattern_is_monotonic(
            count in 1u32..6, on in 1u64..500, off in 1u64..500, blink in 1u64..500
        ) {
            for p in [Pattern::Pulses { count, on_ms: on, off_ms: off }, Pattern::Blink { ms: blink }] {
                let mut at = Duration::ZERO;
                let mut steps = 0;
                while let (_, Some(next)) = p.level_at(at) {
                    prop_assert!(next > Duration::ZERO);
                    at += next;
                    steps += 1;
                    if steps > 20 { break; }
                }
                if let Some(len) = p.length() {
                    prop_assert_eq!(at, len);
                    prop_assert_eq!(steps as u32, 2 * count - 1);
                }
            }
        }

        /// Text that is not a pattern is refused, never a panic.
        #[test]
        fn any_text_parses_or_is_refused(text in ".{0,40}") {
            let _ = text.parse::<Pattern>();
        }
    }
}
