//! The printer driver against the simulated printers over their real transports (ZPL on
//! loopback TCP, TSPL on a pty): a job is answered printed only once the printer's status
//! shows it, a fault holds a job mid-batch without re-sending it, a job offered to a faulted
//! printer is not sent, a connection dropped mid-job is an unknown outcome (never a retry),
//! and a printer silent to `~HS` is a fault. Every wait is on an event or an answer, with a
//! deadline.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracegate_drivers::printer::driver::{Language, PollTimes, PrinterDevice, Transport};
use tracegate_drivers::printer::{Fault, PrinterStatus};
use tracegate_drivers::serial::SerialSettings;
use tracegate_drivers::sim::{SimPrinter, SimPrinterConfig};
use tracegate_drivers::{
    CommandDone, CommandError, CommandRequest, CommandResult, Commands, DeviceCommand, DeviceEvent,
    DeviceState,
};

const LIMIT: Duration = Duration::from_secs(10);

struct Running {
    events: mpsc::Receiver<DeviceEvent>,
    commands: mpsc::Sender<CommandRequest>,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

fn fast_poll() -> PollTimes {
    PollTimes {
        idle: Duration::from_millis(300),
        busy_min: Duration::from_millis(20),
        busy_max: Duration::from_millis(100),
        answer: Duration::from_millis(500),
        settle: Duration::from_millis(200),
        write: Duration::from_secs(5),
    }
}

fn start(language: Language, transport: Transport) -> Running {
    let device =
        PrinterDevice::new(Arc::from("printer-1"), language, transport).with_poll(fast_poll());
    let (events_tx, events) = mpsc::channel(64);
    let (commands, rx) = mpsc::channel(4);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(
        device
            .driver()
            .run(events_tx, Commands::new(rx), cancel.clone()),
    );
    Running {
        events,
        commands,
        cancel,
        task,
    }
}

impl Running {
    /// Waits for an event matching `want`, returning it.
    async fn until(&mut self, what: &str, want: impl Fn(&DeviceEvent) -> bool) -> DeviceEvent {
        tokio::time::timeout(LIMIT, async {
            loop {
                let event = self.events.recv().await.expect("driver running");
                if want(&event) {
                    return event;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no event: {what}"))
    }

    async fn up(&mut self) {
        self.until("up", |e| {
            matches!(
                e,
                DeviceEvent::State {
                    state: DeviceState::Up,
                    ..
                }
            )
        })
        .await;
    }

    /// Up, and the printer has answered its first status request (until then a job is
    /// held, not sent).
    async fn ready(&mut self) {
        self.up().await;
        self.status("the first status", |s| s.ready()).await;
    }

    async fn status(&mut self, what: &str, want: impl Fn(&PrinterStatus) -> bool) {
        self.until(
            what,
            |e| matches!(e, DeviceEvent::Printer { status, .. } if want(status)),
        )
        .await;
    }

    async fn print(&self, data: &'static [u8], labels: u32) -> oneshot::Receiver<CommandResult> {
        let (request, answer) = CommandRequest::with_reply(DeviceCommand::Print {
            data: Bytes::from_static(data),
            labels,
        });
        self.commands.send(request).await.unwrap();
        answer
    }

    /// Asks whether a job would be sent now.
    async fn ready_to_print(&self) -> CommandResult {
        let (request, answer) = CommandRequest::with_reply(DeviceCommand::PrintReady);
        self.commands.send(request).await.unwrap();
        self::answer(answer).await
    }

    async fn stop(self) {
        self.cancel.cancel();
        tokio::time::timeout(LIMIT, self.task)
            .await
            .unwrap()
            .unwrap();
    }
}

async fn answer(rx: oneshot::Receiver<CommandResult>) -> CommandResult {
    tokio::time::timeout(LIMIT, rx)
        .await
        .expect("an answer")
        .expect("answered")
}

#[tokio::test]
async fn a_zpl_job_is_answered_printed_once_the_printer_counts_it() {
    let printer = SimPrinter::start_zpl(SimPrinterConfig::default())
        .await
        .unwrap();
    let mut driver = start(
        Language::Zpl,
        Transport::Tcp(printer.addr.unwrap().to_string()),
    );
    driver.ready().await;
    assert_eq!(driver.ready_to_print().await, Ok(CommandDone::Ready));
    let job = driver.print(b"^XA^FO50,50^FDlot 42^FS^PQ3^XZ", 3).await;
    assert_eq!(answer(job).await, Ok(CommandDone::Printed { labels: 3 }));
    assert_eq!(printer.printed(), 3);
    assert_eq!(printer.jobs(), 1);
    driver.stop().await;
}

#[tokio::test]
async fn paper_out_mid_batch_holds_the_job_and_it_completes_without_a_resend() {
    let printer = SimPrinter::start_zpl(SimPrinterConfig {
        roll: Some(3),
        ..SimPrinterConfig::default()
    })
    .await
    .unwrap();
    let mut driver = start(
        Language::Zpl,
        Transport::Tcp(printer.addr.unwrap().to_string()),
    );
    driver.ready().await;
    let mut job = driver.print(b"^XA^FDbatch^FS^PQ5^XZ", 5).await;
    driver
        .status("paper out", |s| {
            s.faults == [Fault::PaperOut] && s.labels_remaining == Some(2)
        })
        .await;
    assert!(
        job.try_recv().is_err(),
        "no answer while the batch waits for paper"
    );
    assert_eq!(printer.printed(), 3);
    printer.set_fault(Fault::PaperOut, false);
    assert_eq!(answer(job).await, Ok(CommandDone::Printed { labels: 5 }));
    assert_eq!(printer.printed(), 5);
    assert_eq!(printer.jobs(), 1, "the job was sent once");
    driver.stop().await;
}

#[tokio::test]
async fn a_job_for_a_faulted_printer_is_not_sent() {
    let printer = SimPrinter::start_zpl(SimPrinterConfig::default())
        .await
        .unwrap();
    printer.set_fault(Fault::HeadOpen, true);
    let mut driver = start(
        Language::Zpl,
        Transport::Tcp(printer.addr.unwrap().to_string()),
    );
    driver.up().await;
    driver
        .status("head open", |s| s.faults == [Fault::HeadOpen])
        .await;
    let Err(CommandError::Held(why)) = driver.ready_to_print().await else {
        panic!("not ready")
    };
    assert!(why.contains("head open"), "{why}");
    let job = driver.print(b"^XA^FDx^FS^XZ", 1).await;
    let Err(CommandError::Held(why)) = answer(job).await else {
        panic!("held")
    };
    assert!(why.contains("head open"), "{why}");
    assert_eq!(printer.jobs(), 0);
    driver.stop().await;
}

#[tokio::test]
async fn a_connection_dropped_mid_job_is_an_unknown_outcome_and_the_driver_reconnects() {
    let printer = SimPrinter::start_zpl(SimPrinterConfig::default())
        .await
        .unwrap();
    let mut driver = start(
        Language::Zpl,
        Transport::Tcp(printer.addr.unwrap().to_string()),
    );
    driver.up().await;
    driver.status("first status", |s| s.ready()).await;
    printer.drop_after(8);
    let job = driver.print(b"^XA^FDcut off mid-format^FS^XZ", 1).await;
    let Err(CommandError::OutcomeUnknown(_)) = answer(job).await else {
        panic!("outcome unknown")
    };
    assert_eq!(
        printer.jobs(),
        0,
        "the partial format is lost, as on a printer"
    );
    driver
        .until("down", |e| {
            matches!(
                e,
                DeviceEvent::State {
                    state: DeviceState::Down,
                    ..
                }
            )
        })
        .await;
    driver.up().await;
    driver.stop().await;
}

#[tokio::test]
async fn a_zebra_silent_to_host_status_is_a_fault_that_holds_jobs() {
    let printer = SimPrinter::start_zpl(SimPrinterConfig {
        silent_when_faulted: true,
        ..SimPrinterConfig::default()
    })
    .await
    .unwrap();
    let mut driver = start(
        Language::Zpl,
        Transport::Tcp(printer.addr.unwrap().to_string()),
    );
    driver.up().await;
    driver.status("ready", |s| s.ready()).await;
    printer.set_fault(Fault::PaperOut, true);
    let job = driver.print(b"^XA^FDx^FS^XZ", 1).await;
    driver
        .status("silent", |s| s.faults.contains(&Fault::Silent))
        .await;
    printer.set_fault(Fault::PaperOut, false);
    assert_eq!(answer(job).await, Ok(CommandDone::Printed { labels: 1 }));
    driver.stop().await;
}

#[tokio::test]
async fn a_tspl_job_on_a_serial_line_is_confirmed_and_a_paper_out_holds_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("tspl");
    let printer = SimPrinter::start_tspl(SimPrinterConfig::default(), Some(&link)).unwrap();
    let mut serial = SerialSettings::new(link.to_str().unwrap());
    serial.baud = 115_200;
    let mut driver = start(Language::Tspl, Transport::Serial(serial));
    driver.ready().await;
    let job = driver
        .print(
            b"SIZE 60 mm,40 mm\r\nCLS\r\nTEXT 10,10,\"3\",0,1,1,\"lot 42\"\r\nPRINT 2\r\n",
            2,
        )
        .await;
    assert_eq!(answer(job).await, Ok(CommandDone::Printed { labels: 2 }));
    assert_eq!(printer.printed(), 2);
    printer.set_fault(Fault::PaperOut, true);
    driver
        .status("paper out", |s| s.faults == [Fault::PaperOut])
        .await;
    let job = driver.print(b"CLS\r\nPRINT 1\r\n", 1).await;
    assert!(matches!(answer(job).await, Err(CommandError::Held(_))));
    assert_eq!(printer.jobs(), 1);
    driver.stop().await;
}

#[tokio::test]
async fn a_printer_that_never_answered_gets_no_job() {
    let printer = SimPrinter::start_zpl(SimPrinterConfig {
        silent_when_faulted: true,
        ..SimPrinterConfig::default()
    })
    .await
    .unwrap();
    printer.set_fault(Fault::RibbonOut, true);
    let mut driver = start(
        Language::Zpl,
        Transport::Tcp(printer.addr.unwrap().to_string()),
    );
    driver.up().await;
    let job = driver.print(b"^XA^FDx^FS^XZ", 1).await;
    let Err(CommandError::Held(why)) = answer(job).await else {
        panic!("held")
    };
    assert!(why.contains("not answered"), "{why}");
    driver
        .status("silent", |s| s.faults == [Fault::Silent])
        .await;
    assert_eq!(printer.jobs(), 0);
    driver.stop().await;
}
