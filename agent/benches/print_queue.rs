//! Labels per second through the durable print queue, against the printer driver alone.
//!
//! A simulated ZPL printer on loopback TCP (endless roll, prints instantly) is driven by the
//! real `label-printer` device (driver, status polling, confirmation from `~HS`). The queue
//! run submits `JOBS` one-label jobs, each with its own key, rendered from a template, and
//! counts them confirmed: every job is committed `submitted`, committed `sent` before its
//! bytes go out, confirmed from the printer's status, committed `confirmed` together with the
//! label's commissioning event (three outbox commits with `synchronous = FULL` per label).
//! Each label carries a serialised GS1-128 (01)(10)(21), checked and encoded at submit. The baseline in the same run sends the same
//! rendered jobs straight to a second driver with no queue and no database: the printer
//! round trip (write, `~HS`, answer) that any confirmed print needs. A real thermal printer
//! prints 2 to 6 labels a second (4-inch labels at 6 to 14 ips), so both are far above what
//! a line needs; the ratio says what durability costs per label.
//!
//! `cargo bench -p tracegate --bench print_queue`

#[path = "common/report.rs"]
mod report;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracegate::capture::devices::Devices;
use tracegate::capture::event::build::EventBuilder;
use tracegate::capture::event::ids::IdMapper;
use tracegate::config::Config;
use tracegate::labels::symbols::SymbolSettings;
use tracegate::labels::templates::{TemplateFile, TemplateLanguage, Templates};
use tracegate::outbox::store::Store;
use tracegate::print::queue::{LabelEvents, PrintQueue, PrintRequest};
use tracegate_drivers::printer::driver::{Language, PrinterDevice, Transport};
use tracegate_drivers::sim::{SimPrinter, SimPrinterConfig};
use tracegate_drivers::{CommandRequest, Commands, DeviceCommand, DeviceEvent, DeviceState};

const JOBS: usize = 500;
const TEMPLATE: &str = "^XA^FO40,30^A0N,36,36^FDLOT {{ lot }}^FS^FO40,80{{ gs1_128('(01)09506000134352(10)' ~ lot ~ '(21)' ~ serial) }}^PQ{{ copies }}^XZ";

fn templates() -> Templates {
    Templates::from_files([(
        "case".to_string(),
        TemplateFile {
            path: "case.zpl".into(),
            language: TemplateLanguage::Zpl,
            source: TEMPLATE.into(),
        },
    )])
}

fn vars(n: usize) -> Map<String, Value> {
    json!({"lot": "A17", "serial": 100_000 + n})
        .as_object()
        .unwrap()
        .clone()
}

/// Labels/s sending the rendered jobs straight to a driver.
async fn driver_alone(printer: &SimPrinter) -> f64 {
    let device = PrinterDevice::new(
        Arc::from("bare"),
        Language::Zpl,
        Transport::Tcp(printer.addr.unwrap().to_string()),
    );
    let (events_tx, mut events) = mpsc::channel(256);
    let (commands, rx) = mpsc::channel(4);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(
        device
            .driver()
            .run(events_tx, Commands::new(rx), cancel.clone()),
    );
    // Up and answered once: until then a job is held.
    while let Some(event) = events.recv().await {
        if matches!(event, DeviceEvent::Printer { .. }) {
            break;
        }
    }
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    let t = templates();
    let jobs: Vec<Vec<u8>> = (0..JOBS)
        .map(|n| {
            t.render(
                "case",
                &vars(n),
                1,
                false,
                TemplateLanguage::Zpl,
                &SymbolSettings::default(),
            )
            .unwrap()
            .data
        })
        .collect();
    let started = Instant::now();
    for data in jobs {
        let (request, answer) = CommandRequest::with_reply(DeviceCommand::Print {
            data: data.into(),
            labels: 1,
        });
        commands.send(request).await.unwrap();
        answer.await.unwrap().expect("printed");
    }
    let rate = JOBS as f64 / started.elapsed().as_secs_f64();
    cancel.cancel();
    let _ = task.await;
    rate
}

/// Labels/s through the queue, from submission to confirmed.
async fn through_the_queue(printer: &SimPrinter) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[gateway]\nid = \"gw-bench\"\n[store]\npath = \"{}\"\n[mqtt]\nhost = \"127.0.0.1\"\nport = 1\n\
         [clock]\nsync_check = \"trust\"\n\
         [[devices]]\nid = \"line-printer\"\nkind = \"label-printer\"\nlanguage = \"zpl\"\naddress = \"{}\"\n",
        dir.path().join("outbox.db").display(),
        printer.addr.unwrap()
    );
    let config = Config::parse(
        &dir.path().join("bench.toml"),
        &text,
        &tracegate::capture::devices::builtin(),
    )
    .unwrap();
    let (store, thread) = Store::open(&config.store).unwrap();
    let (events_tx, mut events) = mpsc::channel(256);
    let mut devices = Devices::new(events_tx);
    devices.start(&config.devices[0]).unwrap();
    // Wait until the printer has answered once, as the driver alone did.
    while let Some(event) = events.recv().await {
        if matches!(event, DeviceEvent::Printer { .. }) {
            break;
        }
        if let DeviceEvent::State {
            state: DeviceState::Down,
            detail,
            ..
        } = &event
        {
            panic!("printer down: {detail:?}");
        }
    }
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    let cancel = CancellationToken::new();
    let builder = EventBuilder::new(
        IdMapper::from_config(&config.identifiers).unwrap(),
        jiff::tz::TimeZone::UTC,
    );
    let labels = LabelEvents::new(builder, &config.location);
    let symbols = labels.symbol_settings(None);
    let queue = PrintQueue::start(
        store.clone(),
        devices.routes(),
        templates(),
        HashMap::from([("line-printer".to_string(), TemplateLanguage::Zpl)]),
        labels,
        symbols,
        cancel.clone(),
    )
    .await
    .unwrap();
    let mut updates = queue.updates();
    let started = Instant::now();
    for n in 0..JOBS {
        queue
            .submit(PrintRequest {
                device: "line-printer".into(),
                template: "case".into(),
                vars: vars(n),
                copies: 1,
                key: format!("bench-{n}"),
            })
            .await
            .unwrap();
    }
    // Woken by each change (a lagging receiver only means changes came faster than read).
    while queue.summary().confirmed < JOBS as u64 {
        match updates.recv().await {
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    let rate = JOBS as f64 / started.elapsed().as_secs_f64();
    assert_eq!(queue.summary().confirmed, JOBS as u64);
    assert_eq!(
        store.stats().undelivered,
        JOBS as u64,
        "one commissioning event per confirmed label"
    );
    cancel.cancel();
    devices.stop_all().await;
    store.close().await;
    drop(store);
    tokio::task::spawn_blocking(move || thread.join())
        .await
        .unwrap();
    rate
}

#[tokio::main]
async fn main() {
    let printer = SimPrinter::start_zpl(SimPrinterConfig::default())
        .await
        .unwrap();
    let bare = driver_alone(&printer).await;
    let queued = through_the_queue(&printer).await;
    assert_eq!(
        printer.printed(),
        2 * JOBS as u64,
        "every label printed once"
    );
    report::record(report::Figure {
        bench: "printing",
        what: "labels through the durable queue (3 commits per label)",
        value: queued,
        unit: "labels/s",
        limit: Some(("the same jobs straight to the driver", bare)),
        target: None,
    });
}
