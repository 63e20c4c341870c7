//! The input driver against simulated lines on a paused clock: bounces, glitches shorter than
//! the debounce, held buttons, active-low lines, `inputs` answered, and the life cycle.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracegate_drivers::backoff::Reconnect;
use tracegate_drivers::command::{
    CommandDone, CommandRequest, Commands, DeviceCommand, InputLevel,
};
use tracegate_drivers::gpio::{InputDriver, InputSpec, Pull};
use tracegate_drivers::sim::SimInputs;
use tracegate_drivers::{DeviceEvent, DeviceState};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

struct Rig {
    sim: SimInputs,
    events: mpsc::Receiver<DeviceEvent>,
    commands: mpsc::Sender<CommandRequest>,
    cancel: CancellationToken,
    t0: Instant,
}

/// A photo-eye (active low, 20 ms debounce) and a button (active high, 10 ms).
async fn start() -> Rig {
    let specs = vec![
        InputSpec {
            name: "eye".into(),
            pin: 17,
            pull: Pull::Up,
            active_low: true,
            debounce: ms(20),
        },
        InputSpec {
            name: "button".into(),
            pin: 27,
            pull: Pull::Down,
            active_low: false,
            debounce: ms(10),
        },
    ];
    let sim = SimInputs::new("io", &[("eye".into(), true), ("button".into(), false)]);
    let (tx, events) = mpsc::channel(64);
    let (commands, inbox) = mpsc::channel(8);
    let cancel = CancellationToken::new();
    let driver = InputDriver::new(Arc::from("io"), sim.clone(), specs)
        .with_reconnect(Reconnect::new(ms(10), ms(40)));
    tokio::spawn(driver.run(tx, Commands::new(inbox), cancel.clone()));
    let mut rig = Rig {
        sim,
        events,
        commands,
        cancel,
        t0: Instant::now(),
    };
    assert_eq!(rig.state().await, DeviceState::Up);
    // The levels at open are reported, inactive both.
    assert_eq!(rig.edge().await, ("eye".into(), false, 0));
    assert_eq!(rig.edge().await, ("button".into(), false, 0));
    rig.t0 = Instant::now();
    rig
}

impl Rig {
    async fn next(&mut self) -> DeviceEvent {
        tokio::time::timeout(Duration::from_secs(5), self.events.recv())
            .await
            .expect("an event")
            .expect("driver running")
    }

    async fn state(&mut self) -> DeviceState {
        loop {
            if let DeviceEvent::State { state, .. } = self.next().await
                && state != DeviceState::Connecting
            {
                return state;
            }
        }
    }

    /// The next settled edge: line, active, and its time in ms after `t0`.
    async fn edge(&mut self) -> (String, bool, u64) {
        loop {
            if let DeviceEvent::Input {
                line, active, mono, ..
            } = self.next().await
            {
                let at = Instant::from_std(mono).saturating_duration_since(self.t0);
                return (line, active, at.as_millis() as u64);
            }
        }
    }

    /// Drives `line` through `(ms after t0, level)` steps on the paused clock.
    async fn drive(&self, line: &str, steps: &[(u64, bool)]) {
        for &(at, high) in steps {
            tokio::time::sleep_until(self.t0 + ms(at)).await;
            self.sim.set(line, high);
        }
    }

    fn quiet(&mut self) -> bool {
        !matches!(self.events.try_recv(), Ok(DeviceEvent::Input { .. }))
    }
}

#[tokio::test(start_paused = true)]
async fn a_bouncing_beam_break_is_one_edge_dated_by_its_first_bounce() {
    let mut rig = start().await;
    // The beam breaks at 100 ms (the line goes low, active) with 4 ms of chatter.
    rig.drive(
        "eye",
        &[
            (100, false),
            (101, true),
            (102, false),
            (103, true),
            (104, false),
        ],
    )
    .await;
    assert_eq!(rig.edge().await, ("eye".into(), true, 100));
    // Cleared at 500 ms, cleanly.
    rig.drive("eye", &[(500, true)]).await;
    assert_eq!(rig.edge().await, ("eye".into(), false, 500));
    rig.cancel.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_glitch_shorter_than_the_debounce_makes_no_edge() {
    let mut rig = start().await;
    rig.drive("button", &[(50, true), (55, false)]).await;
    tokio::time::sleep(ms(200)).await;
    assert!(
        rig.quiet(),
        "a 5 ms glitch under a 10 ms debounce is not a press"
    );
    // A real press, held for a minute, is one edge; its release another.
    rig.drive("button", &[(300, true), (60_300, false)]).await;
    assert_eq!(rig.edge().await, ("button".into(), true, 300));
    assert_eq!(rig.edge().await, ("button".into(), false, 60_300));
    rig.cancel.cancel();
}

#[tokio::test(start_paused = true)]
async fn inputs_are_answered_with_debounced_and_raw_levels() {
    let mut rig = start().await;
    rig.drive("button", &[(10, true)]).await;
    // Asked before the debounce has passed: the raw level is high, the press not yet counted.
    let (request, answer) = CommandRequest::with_reply(DeviceCommand::ReadInputs);
    rig.commands.send(request).await.unwrap();
    assert_eq!(
        answer.await.unwrap(),
        Ok(CommandDone::Inputs(vec![
            InputLevel {
                line: "eye".into(),
                active: false,
                raw_high: true
            },
            InputLevel {
                line: "button".into(),
                active: false,
                raw_high: true
            },
        ]))
    );
    assert_eq!(rig.edge().await, ("button".into(), true, 10));
    rig.cancel.cancel();
}

#[tokio::test(start_paused = true)]
async fn an_unplugged_bank_is_down_and_comes_back_with_its_levels() {
    let mut rig = start().await;
    rig.sim.unplug();
    assert_eq!(rig.state().await, DeviceState::Down);
    rig.sim.set("eye", false); // the beam broke while the cable was out
    rig.sim.plug_in();
    assert_eq!(rig.state().await, DeviceState::Up);
    let (line, active, _) = rig.edge().await;
    assert_eq!((line.as_str(), active), ("eye", true), "re-read at open");
    rig.cancel.cancel();
}
