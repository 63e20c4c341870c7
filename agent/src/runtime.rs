//! The daemon: start every part, run until told to stop, stop them in the order that keeps
//! the durability contract.
//!
//! Start: outbox (lock, open, migrate) → control socket (and metrics endpoint) → pipeline → devices → uplink →
//! systemd READY=1 once every device has been tried, then the watchdog ([`crate::systemd`]).
//! Stop: STOPPING=1, watchdog → devices (no new reads) → pipeline drains (every read has its commit outcome) →
//! outbox flush → uplink goodbye (in-flight acks, status offline, DISCONNECT) → outbox close
//! (final commit, WAL checkpoint) → control socket removed.

use std::sync::Arc;

use anyhow::Context;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, SystemClock};
use crate::commands;
use crate::config::Config;
use crate::contexts::ContextRegistry;
use crate::control::ControlServer;
use crate::devices;
use crate::event::build::EventBuilder;
use crate::event::ids::IdMapper;
use crate::health;
use crate::metrics::MetricsServer;
use crate::pipeline::Pipeline;
use crate::status::{BrokerStatus, DeviceRegistry, StatusCollector};
use crate::store::Store;
use crate::sync::Sync;
use crate::systemd;

/// Runs the daemon with `config` until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let (store, store_thread) = Store::open(&config.store)?;
    let stats = store.stats();
    tracing::info!(
        outbox = %config.store.path.display(),
        undelivered = stats.undelivered,
        "outbox open"
    );

    let registry = DeviceRegistry::new(&config);
    let broker = Arc::new(BrokerStatus::default());
    let status = Arc::new(StatusCollector::new(
        &config,
        store.clone(),
        registry.clone(),
        broker,
    ));

    let socket = config.control_socket();
    let control = ControlServer::bind(&socket).with_context(|| {
        format!(
            "cannot create the control socket {} (gateway.control_socket)",
            socket.display()
        )
    })?;
    let control_cancel = CancellationToken::new();
    let control_task = tokio::spawn(control.serve(status.clone(), control_cancel.clone()));

    let metrics_task = match config.metrics.listen {
        None => None,
        Some(addr) => {
            let server = MetricsServer::bind(addr).await.with_context(|| {
                format!(
                    "cannot serve metrics on {addr} (metrics.listen): is another program \
                     using the port? Choose another port or remove [metrics]"
                )
            })?;
            tracing::info!("Prometheus metrics on http://{addr}/metrics");
            Some(tokio::spawn(
                server.serve(status.clone(), control_cancel.clone()),
            ))
        }
    };

    let builder = event_builder(&config)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new(config.clock.sync_check));
    let contexts = ContextRegistry::load(&config, Some(store.clone()));
    let (device_tx, device_rx) = mpsc::channel(1024);
    let (signal_lines, mut host_commands) = crate::signals::lines(&config);
    let (pipeline_probe, pipeline_responder) = health::probe("capture pipeline");
    let pipeline = tokio::spawn(
        Pipeline::new(
            &config,
            store.clone(),
            registry.clone(),
            contexts.clone(),
            builder.clone(),
            clock.clone(),
        )
        .with_probe(pipeline_responder)
        .with_signals(signal_lines)
        .run(device_rx),
    );
    let release_cancel = CancellationToken::new();
    let release = tokio::spawn(crate::pipeline::release::run(
        store.clone(),
        builder,
        clock,
        release_cancel.clone(),
    ));

    let device_cancel = CancellationToken::new();
    let mut device_tasks = JoinSet::new();
    for device in &config.devices {
        devices::spawn(
            device,
            host_commands.remove(&device.id),
            device_tx.clone(),
            device_cancel.clone(),
            &mut device_tasks,
        )
        .with_context(|| format!("cannot start device {:?}", device.id))?;
    }
    drop(device_tx);

    let (command_tx, command_rx) = mpsc::channel(64);
    let (reply_tx, reply_rx) = mpsc::channel(64);
    let commands_task = tokio::spawn(commands::run(
        command_rx,
        reply_tx,
        status.clone(),
        contexts,
    ));
    let sync_cancel = CancellationToken::new();
    let sync = tokio::spawn(
        Sync::new(
            config.clone(),
            store.clone(),
            status.clone(),
            command_tx,
            reply_rx,
        )
        .run(sync_cancel.clone()),
    );

    tracing::info!(
        gateway = %config.gateway.id,
        devices = config.devices.len(),
        broker = %format!("{}:{}", config.mqtt.host, config.mqtt.port),
        "tracegate running"
    );
    let supervisor_cancel = CancellationToken::new();
    let supervisor = tokio::spawn(supervise(
        registry.clone(),
        store.clone(),
        status.clone(),
        vec![
            systemd::Vital::probe(pipeline_probe),
            systemd::Vital::store(store.clone()),
        ],
        supervisor_cancel.clone(),
    ));

    shutdown.cancelled().await;
    tracing::info!("shutting down");
    systemd::notify(&[sd_notify::NotifyState::Stopping]);
    // The watchdog stops first: the loops it probes are about to stop on purpose.
    supervisor_cancel.cancel();
    let _ = supervisor.await;

    device_cancel.cancel();
    while device_tasks.join_next().await.is_some() {}
    if let Err(e) = pipeline.await {
        tracing::error!("pipeline task failed: {e}");
    }
    release_cancel.cancel();
    let _ = release.await;
    store.flush().await;
    sync_cancel.cancel();
    if let Err(e) = sync.await {
        tracing::error!("uplink task failed: {e}");
    }
    let _ = commands_task.await;
    store.close().await;
    drop(store);
    drop(status);
    tokio::task::spawn_blocking(move || store_thread.join()).await?;
    control_cancel.cancel();
    let _ = control_task.await;
    if let Some(task) = metrics_task {
        let _ = task.await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// Tells systemd (when it started us) that the daemon is ready once the devices have been
/// tried, then serves the watchdog and the status line until `cancel`.
async fn supervise(
    devices: DeviceRegistry,
    store: Store,
    status: Arc<StatusCollector>,
    vitals: Vec<systemd::Vital>,
    cancel: CancellationToken,
) {
    use sd_notify::NotifyState;
    if !systemd::managed() {
        return;
    }
    tokio::select! {
        _ = cancel.cancelled() => return,
        _ = systemd::devices_settled(&devices, systemd::READY_WAIT) => {}
    }
    let line = || systemd::status_line(&devices, &store, status.broker().is_connected());
    systemd::notify(&[NotifyState::Ready, NotifyState::Status(&line())]);
    let watchdog = systemd::watchdog_period();
    match watchdog {
        Some(period) => tracing::info!("systemd watchdog on: pinging every {:?}", period / 2),
        None => tracing::debug!("no systemd watchdog requested (WatchdogSec=)"),
    }
    systemd::watchdog(
        vitals,
        systemd::round_period(watchdog),
        cancel,
        |round| match round {
            systemd::Round::Alive if watchdog.is_some() => {
                systemd::notify(&[NotifyState::Watchdog, NotifyState::Status(&line())])
            }
            systemd::Round::Alive => systemd::notify(&[NotifyState::Status(&line())]),
            systemd::Round::Stalled(loops) => systemd::notify(&[NotifyState::Status(&format!(
                "STALLED: {} not answering",
                loops.join(", ")
            ))]),
        },
    )
    .await;
}

/// The event builder `[identifiers]` and `[gateway] time_zone` ask for.
fn event_builder(config: &Config) -> anyhow::Result<EventBuilder> {
    let mapper = IdMapper::from_config(&config.identifiers).with_context(|| {
        format!(
            "cannot load the GCP length table (identifiers.gcp_length_table = {:?})",
            config.identifiers.gcp_length_table
        )
    })?;
    let time_zone = match &config.gateway.time_zone {
        Some(name) => jiff::tz::TimeZone::get(name.get_ref())
            .with_context(|| format!("gateway.time_zone = {:?}", name.get_ref()))?,
        None => jiff::tz::TimeZone::system(),
    };
    Ok(EventBuilder::new(mapper, time_zone))
}
