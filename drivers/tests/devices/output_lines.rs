//! The output driver against the simulated bank: commands answered, levels set and reported,
//! pulses ending on time, the life cycle (down with a reason, commands answered "not up",
//! back up from the safe state).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracegate_drivers::backoff::Reconnect;
use tracegate_drivers::command::{
    CommandDone, CommandError, CommandRequest, CommandResult, Commands, DeviceCommand,
};
use tracegate_drivers::output::OutputDriver;
use tracegate_drivers::output::pattern::Pattern;
use tracegate_drivers::sim::SimOutputs;
use tracegate_drivers::{DeviceEvent, DeviceState};

struct Rig {
    sim: SimOutputs,
    events: mpsc::Receiver<DeviceEvent>,
    commands: mpsc::Sender<CommandRequest>,
    cancel: CancellationToken,
    driver: tokio::task::JoinHandle<()>,
}

impl Rig {
    async fn start() -> Rig {
        let lines: Vec<String> = ["red", "green", "buzzer"].map(String::from).to_vec();
        let sim = SimOutputs::new("light-1", &lines);
        let (tx, events) = mpsc::channel(64);
        let (commands, inbox) = mpsc::channel(8);
        let cancel = CancellationToken::new();
        let driver = OutputDriver::new(Arc::from("light-1"), sim.clone()).with_reconnect(
            Reconnect::new(Duration::from_millis(10), Duration::from_millis(40)),
        );
        let driver = tokio::spawn(driver.run(tx, Commands::new(inbox), cancel.clone()));
        let mut rig = Rig {
            sim,
            events,
            commands,
            cancel,
            driver,
        };
        rig.state(DeviceState::Up).await;
        rig
    }

    async fn state(&mut self, want: DeviceState) -> Option<String> {
        loop {
            let event = tokio::time::timeout(Duration::from_secs(5), self.events.recv())
                .await
                .expect("a device event within 5 s")
                .expect("driver running");
            if let DeviceEvent::State { state, detail, .. } = event
                && state == want
            {
                return detail;
            }
        }
    }

    async fn send(&self, command: DeviceCommand) -> CommandResult {
        let (request, answer) = CommandRequest::with_reply(command);
        self.commands.send(request).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), answer)
            .await
            .expect("answered within 5 s")
            .expect("answered, not dropped")
    }

    async fn level_becomes(&self, line: &str, on: bool) {
        let mut watch = self.sim.watch();
        tokio::time::timeout(
            Duration::from_secs(5),
            watch.wait_for(|levels| levels.get(line) == Some(&on)),
        )
        .await
        .expect("level reached within 5 s")
        .unwrap();
    }
}

fn set(line: &str, on: bool, for_ms: Option<u64>) -> DeviceCommand {
    DeviceCommand::SetOutput {
        line: line.into(),
        pattern: if on { Pattern::On } else { Pattern::Off },
        priority: 0,
        owner: if for_ms.is_some() {
            "command-timed"
        } else {
            "command"
        }
        .into(),
        for_ms,
    }
}

fn layer(line: &str, owner: &str, priority: u8, pattern: &str) -> DeviceCommand {
    DeviceCommand::SetOutput {
        line: line.into(),
        pattern: pattern.parse().unwrap(),
        priority,
        owner: owner.into(),
        for_ms: None,
    }
}

#[tokio::test]
async fn outputs_are_set_reported_and_pulses_end() {
    let mut rig = Rig::start().await;
    assert_eq!(
        rig.send(set("red", true, None)).await,
        Ok(CommandDone::Output {
            line: "red".into(),
            on: true,
            shown: "on".into(),
        })
    );
    assert!(rig.sim.levels()["red"]);
    // Each line's state is reported when the bank opens (off), then red's change.
    let mut reported = Vec::new();
    while reported.len() < 4 {
        if let Some(DeviceEvent::Output { line, on, .. }) = rig.events.recv().await {
            reported.push((line, on));
        }
    }
    assert_eq!(
        reported,
        [
            ("red", false),
            ("green", false),
            ("buzzer", false),
            ("red", true)
        ]
        .map(|(l, on)| (l.to_string(), on))
    );

    // A pulse goes back to the level before it.
    rig.send(set("buzzer", true, Some(50))).await.unwrap();
    assert!(rig.sim.levels()["buzzer"]);
    rig.level_becomes("buzzer", false).await;

    assert_eq!(
        rig.send(set("blue", true, None)).await,
        Err(CommandError::NoSuchLine {
            line: "blue".into(),
            known: "red, green, buzzer".into()
        })
    );
    assert_eq!(
        rig.send(DeviceCommand::ReadWindow(true)).await,
        Err(CommandError::Unsupported("read-window"))
    );

    // Shutdown leaves every line in the safe state.
    rig.cancel.cancel();
    rig.driver.await.unwrap();
    assert!(rig.sim.levels().values().all(|on| !on));
}

#[tokio::test]
async fn an_unplugged_bank_is_down_answers_not_up_and_comes_back_safe() {
    let mut rig = Rig::start().await;
    rig.send(set("green", true, None)).await.unwrap();
    rig.sim.unplug();
    let failed = rig.send(set("red", true, None)).await;
    assert!(
        matches!(&failed, Err(CommandError::Failed(e)) if e.contains("disconnected")),
        "{failed:?}"
    );
    let why = rig.state(DeviceState::Down).await.unwrap();
    assert!(why.contains("disconnected"), "{why}");
    let refused = rig.send(set("red", true, None)).await;
    assert!(
        matches!(refused, Err(CommandError::NotUp(_))),
        "{refused:?}"
    );

    rig.sim.plug_in();
    rig.state(DeviceState::Up).await;
    assert!(
        rig.sim.levels().values().all(|on| !on),
        "safe state on reconnect"
    );
    rig.send(set("red", true, None)).await.unwrap();
    rig.cancel.cancel();
    rig.driver.await.unwrap();
}

/// Each step of a pattern at its time, on a paused clock: what the simulated bank recorded.
fn steps(rig: &Rig, line: &str, t0: tokio::time::Instant) -> Vec<(u64, bool)> {
    rig.sim
        .history()
        .into_iter()
        .filter(|c| c.line == line && c.at >= t0)
        .map(|c| ((c.at - t0).as_millis() as u64, c.on))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn patterns_step_on_time_and_a_fault_is_not_overwritten_by_a_pulse() {
    let mut rig = Rig::start().await;
    let t0 = tokio::time::Instant::now();
    // Three pulses of 100 ms on, 100 ms off.
    let done = rig
        .send(layer("buzzer", "rule-rejected", 20, "pulses 3x100ms"))
        .await;
    assert_eq!(
        done,
        Ok(CommandDone::Output {
            line: "buzzer".into(),
            on: true,
            shown: "pulses 3x100ms".into()
        })
    );
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(
        steps(&rig, "buzzer", t0),
        [
            (0, true),
            (100, false),
            (200, true),
            (300, false),
            (400, true),
            (500, false)
        ]
    );

    // A fault holds red steady at 40; a "captured" pulse at 10 does not show through it.
    let t1 = tokio::time::Instant::now();
    rig.send(layer("red", "rule-device-down", 40, "on"))
        .await
        .unwrap();
    let under = rig
        .send(layer("red", "rule-captured", 10, "pulse 200ms"))
        .await;
    assert_eq!(
        under,
        Ok(CommandDone::Output {
            line: "red".into(),
            on: true,
            shown: "on".into()
        }),
        "the answer says the fault still shows"
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(steps(&rig, "red", t1), [(0, true)], "red never blinked off");
    // The fault clears: nothing below it is left (the pulse is over), so red goes off.
    rig.send(DeviceCommand::ClearOutput {
        line: "red".into(),
        owner: "rule-device-down".into(),
    })
    .await
    .unwrap();
    assert!(!rig.sim.levels()["red"]);

    // A blink is one status event, not one per step.
    while rig.events.try_recv().is_ok() {}
    let t2 = tokio::time::Instant::now();
    rig.send(layer("green", "command", 0, "blink 250ms"))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let mut reports = Vec::new();
    while let Ok(event) = rig.events.try_recv() {
        if let DeviceEvent::Output { line, pattern, .. } = event
            && line == "green"
        {
            reports.push(pattern);
        }
    }
    assert_eq!(reports, ["blink 250ms"]);
    let want: Vec<(u64, bool)> = (0..8).map(|i| (i * 250, i % 2 == 0)).collect();
    assert_eq!(steps(&rig, "green", t2), want);
    rig.cancel.cancel();
    rig.driver.await.unwrap();
    assert!(rig.sim.levels().values().all(|on| !on), "safe state");
}
