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
        on,
        for_ms,
    }
}

#[tokio::test]
async fn outputs_are_set_reported_and_pulses_end() {
    let mut rig = Rig::start().await;
    assert_eq!(
        rig.send(set("red", true, None)).await,
        Ok(CommandDone::Output {
            line: "red".into(),
            on: true
        })
    );
    assert!(rig.sim.levels()["red"]);
    let reported = loop {
        if let Some(DeviceEvent::Output { line, on, .. }) = rig.events.recv().await {
            break (line, on);
        }
    };
    assert_eq!(reported, ("red".to_string(), true));

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
