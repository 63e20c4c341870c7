//! The daemon: start every part, run until told to stop, stop them in the order that keeps
//! the durability contract.
//!
//! Start: outbox (lock, open, migrate) → control socket → pipeline → devices → uplink.
//! Stop: devices (no new reads) → pipeline drains (every read has its commit outcome) →
//! outbox flush → uplink goodbye (in-flight acks, status offline, DISCONNECT) → outbox close
//! (final commit, WAL checkpoint) → control socket removed.

use std::sync::Arc;

use anyhow::Context;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::commands;
use crate::config::Config;
use crate::control::ControlServer;
use crate::devices;
use crate::pipeline::Pipeline;
use crate::status::{BrokerStatus, DeviceRegistry, StatusCollector};
use crate::store::Store;
use crate::sync::Sync;

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

    let (device_tx, device_rx) = mpsc::channel(1024);
    let pipeline =
        tokio::spawn(Pipeline::new(config.clone(), store.clone(), registry.clone()).run(device_rx));

    let device_cancel = CancellationToken::new();
    let mut device_tasks = JoinSet::new();
    for device in &config.devices {
        devices::spawn(
            device,
            device_tx.clone(),
            device_cancel.clone(),
            &mut device_tasks,
        )
        .with_context(|| format!("cannot start device {:?}", device.id))?;
    }
    drop(device_tx);

    let (command_tx, command_rx) = mpsc::channel(64);
    let (reply_tx, reply_rx) = mpsc::channel(64);
    let commands_task = tokio::spawn(commands::run(command_rx, reply_tx, status.clone()));
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
    shutdown.cancelled().await;
    tracing::info!("shutting down");

    device_cancel.cancel();
    while device_tasks.join_next().await.is_some() {}
    if let Err(e) = pipeline.await {
        tracing::error!("pipeline task failed: {e}");
    }
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
    tracing::info!("stopped");
    Ok(())
}
