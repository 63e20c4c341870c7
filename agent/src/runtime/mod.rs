//! The daemon: start every part, run until told to stop, stop them in the order that keeps
//! the durability contract.
//!
//! Start: outbox (lock, open, migrate) → control socket (and metrics endpoint) → pipeline → devices → uplink →
//! systemd READY=1 once every device has been tried, then the watchdog ([`crate::ops::systemd`]).
//! Stop: STOPPING=1, watchdog → devices (no new reads) → pipeline drains (every read has its commit outcome) →
//! outbox flush → uplink goodbye (in-flight acks, status offline, DISCONNECT) → outbox close
//! (final commit, WAL checkpoint) → control socket removed.
//! Meanwhile: SIGHUP or the `reload` command reloads the config file ([`reload`]).

pub mod reload;

use std::sync::Arc;

use anyhow::Context;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::capture::contexts::ContextRegistry;
use crate::capture::devices::Devices;
use crate::capture::event::build::EventBuilder;
use crate::capture::event::ids::IdMapper;
use crate::capture::pipeline::Pipeline;
use crate::clock::{Clock, SystemClock};
use crate::commands::control::ControlServer;
use crate::commands::{self, Router};
use crate::config::Config;
use crate::ops::metrics::MetricsServer;
use crate::ops::status::StatusCollector;
use crate::ops::systemd;
use crate::outbox::signing::key::GatewayKey;
use crate::outbox::store::{ChainSigner, Store};
use crate::telemetry::health;
use crate::telemetry::live::LiveFeed;
use crate::telemetry::{BrokerStatus, DeviceRegistry, RepositoryStatus};
use crate::uplink::Uplink;
use crate::uplink::epcis::EpcisUplink;
use crate::uplink::mqtt::Sync;
use crate::web::{WebServer, WebState};

/// Runs the daemon with `config` until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let config = Arc::new(config);
    // The store directory first: on a first start it does not exist yet, and the default key
    // file lives in it (a key written before the directory is made fails on a fresh machine).
    crate::outbox::store::prepare_directory(&config.store.path)?;
    let (key, created) =
        GatewayKey::load_or_create_for(&config.integrity.key_file, &config.integrity.algorithm)?;
    if created {
        tracing::warn!(
            key_file = %config.integrity.key_file.display(),
            public_key = %key.public_hex(),
            "a new gateway signing key was made: back up {} (the outbox chain and exports are signed with it); its public key is in the status",
            config.integrity.key_file.display()
        );
    }
    let signer = Arc::new(ChainSigner {
        key: key.clone(),
        gateway: config.gateway.id.to_string(),
    });
    let (store, store_thread) = Store::open_signed(&config.store, Some(signer))?;
    let stats = store.stats();
    tracing::info!(
        outbox = %config.store.path.display(),
        undelivered = stats.undelivered,
        "outbox open"
    );

    let registry = DeviceRegistry::new(config.device_kinds());
    let broker = Arc::new(BrokerStatus::default());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new(config.clock.sync_check));
    let repository = config
        .epcis
        .as_ref()
        .map(|epcis| Arc::new(RepositoryStatus::new(&epcis.capture_url())));
    let mut collector =
        StatusCollector::new(&config, store.clone(), registry.clone(), broker.clone())
            .with_clock(clock.clone(), config.clock.clone())
            .with_key(&key);
    if let Some(repository) = &repository {
        collector = collector.with_repository(repository.clone());
    }
    let status = Arc::new(collector);

    let (reload_tx, mut reload_rx) = mpsc::channel::<reload::ReloadRequest>(4);
    let contexts = ContextRegistry::load(&config, Some(store.clone()));
    let (device_tx, device_rx) = mpsc::channel(1024);
    let mut devices = Devices::new(device_tx);
    let mut router = Router::new(
        status.clone(),
        contexts.clone(),
        devices.routes(),
        reload_tx.clone(),
    );
    // The print queue: settles what a previous run left sent, then one worker per printer.
    let print_cancel = CancellationToken::new();
    let printers: std::collections::HashMap<String, _> = config
        .devices
        .iter()
        .filter_map(|d| d.capabilities.printing.map(|l| (d.id.to_string(), l)))
        .collect();
    let builder = event_builder(&config)?;
    let mut print_queue = None;
    if !printers.is_empty() {
        let labels = crate::print::queue::LabelEvents::new(builder.clone(), &config.location);
        let symbols = labels.symbol_settings(config.printing.digital_link_stem.clone());
        let queue = crate::print::queue::PrintQueue::start(
            store.clone(),
            devices.routes(),
            config.printing.templates.clone(),
            printers,
            labels,
            symbols,
            print_cancel.clone(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("cannot start the print queue: {e}"))?;
        status.set_print_queue(queue.clone());
        print_queue = Some(queue.clone());
        router = router.with_print(queue);
    }

    let socket = config.control_socket();
    let control = ControlServer::bind(&socket).with_context(|| {
        format!(
            "cannot create the control socket {} (gateway.control_socket)",
            socket.display()
        )
    })?;
    let control_cancel = CancellationToken::new();
    let control_task =
        tokio::spawn(control.serve(status.clone(), router.clone(), control_cancel.clone()));

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

    // The commissioning page: the pipeline writes its live feed only while a page watches.
    let live = LiveFeed::new();
    let web_task = match config.web.listen {
        None => None,
        Some(addr) => match WebServer::bind(&config.web, addr).await {
            // Capture is the product, the page a tool: a taken port or a bad certificate
            // leaves the gateway capturing, and says so.
            Err(e) => {
                tracing::error!("commissioning page not served: {e}");
                None
            }
            Ok(server) => {
                let bound = server.local_addr()?;
                let scheme = if server.is_tls() { "https" } else { "http" };
                let state = Arc::new(WebState {
                    status: status.clone(),
                    router: router.clone(),
                    live: live.clone(),
                    auth: crate::web::auth::Auth::new(
                        config.web.password.as_ref(),
                        bound.port(),
                        server.is_tls(),
                    ),
                    print: print_queue.clone(),
                    stats: Arc::new(crate::telemetry::PageStats::default()),
                    log: crate::telemetry::SharedThrottle::default(),
                });
                status.set_page(state.stats.clone());
                tracing::info!("commissioning page on {scheme}://{bound}/");
                Some(tokio::spawn(server.serve(state, control_cancel.clone())))
            }
        },
    };

    let (pipeline_probe, pipeline_responder) = health::probe("capture pipeline");
    let (reconfigure_tx, reconfigure_rx) = mpsc::channel(1);
    let pipeline = Pipeline::new(
        &config,
        store.clone(),
        registry.clone(),
        contexts.clone(),
        builder.clone(),
        clock.clone(),
    )
    .with_probe(pipeline_responder)
    .with_live(live)
    .with_routes(devices.routes(), &config)
    .with_control(reconfigure_rx);
    // `offline-too-long` rules: sleeps until a threshold or a change of the connection.
    let uplink_watch = tokio::spawn(pipeline.signals().watch_uplink(status.delivery_link()));
    let pipeline = tokio::spawn(pipeline.run(device_rx));
    let release_cancel = CancellationToken::new();
    let release = tokio::spawn(crate::capture::pipeline::release::run(
        store.clone(),
        builder,
        clock,
        config.clock.clone(),
        release_cancel.clone(),
    ));

    for device in &config.devices {
        devices
            .start(device)
            .with_context(|| format!("cannot start device {:?}", device.id))?;
    }

    let (command_tx, command_rx) = mpsc::channel(64);
    let (reply_tx, reply_rx) = mpsc::channel(1024);
    let commands_task = tokio::spawn(commands::run(command_rx, reply_tx, router));
    let sync_cancel = CancellationToken::new();
    // Events go one way: to the repository with [epcis], else through the broker; the MQTT
    // session, when there is one, always carries status and commands.
    let mut uplinks: Vec<Box<dyn Uplink>> = Vec::new();
    if config.mqtt.is_some() {
        uplinks.push(Box::new(Sync::new(
            config.clone(),
            store.clone(),
            status.clone(),
            command_tx,
            reply_rx,
        )));
    } else {
        drop((command_tx, reply_rx));
    }
    if let (Some(epcis), Some(repository)) = (&config.epcis, &repository) {
        uplinks.push(Box::new(EpcisUplink::new(
            epcis.clone(),
            store.clone(),
            repository.clone(),
        )));
    }
    let syncs: Vec<_> = uplinks
        .into_iter()
        .map(|uplink| {
            tracing::debug!(uplink = uplink.name(), "starting the uplink");
            tokio::spawn(uplink.run(sync_cancel.clone()))
        })
        .collect();

    tracing::info!(
        gateway = %config.gateway.id,
        devices = config.devices.len(),
        events_to = %config.uplink_text(),
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

    let mut reloader = reload::Reloader {
        config: config.clone(),
        devices,
        registry: registry.clone(),
        contexts,
        pipeline: reconfigure_tx,
        store: store.clone(),
    };
    let hangup = tokio::spawn(reload_on_hangup(reload_tx));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(request) = reload_rx.recv() => {
                let outcome = reloader.reload().await;
                let _ = request.done.send(outcome);
            }
        }
    }
    hangup.abort();
    tracing::info!("shutting down");
    systemd::notify(&[sd_notify::NotifyState::Stopping]);
    // The watchdog stops first: the loops it probes are about to stop on purpose.
    supervisor_cancel.cancel();
    let _ = supervisor.await;

    // No new job is taken; one being printed is answered by its driver as it stops.
    print_cancel.cancel();
    reloader.devices.stop_all().await;
    drop(reloader);
    uplink_watch.abort();
    if let Err(e) = pipeline.await {
        tracing::error!("pipeline task failed: {e}");
    }
    release_cancel.cancel();
    let _ = release.await;
    store.flush().await;
    sync_cancel.cancel();
    for sync in syncs {
        if let Err(e) = sync.await {
            tracing::error!("uplink task failed: {e}");
        }
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
    if let Some(task) = web_task {
        let _ = task.await;
    }
    tracing::info!("stopped cleanly: every read committed, the outbox closed");
    Ok(())
}

/// Reloads the config file on every SIGHUP (logged; the outcome is in the log).
async fn reload_on_hangup(reload: mpsc::Sender<reload::ReloadRequest>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::error!("cannot install the SIGHUP handler: reload with `tracegate cmd reload`");
        return;
    };
    while hangups.recv().await.is_some() {
        tracing::info!("SIGHUP: reloading the configuration");
        let (done, answer) = tokio::sync::oneshot::channel();
        if reload.send(reload::ReloadRequest { done }).await.is_err() {
            return;
        }
        let _ = answer.await; // the reload logs its own outcome
    }
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
    let line = || systemd::status_line(&devices, &store, status.delivery_link().is_connected());
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
