//! The uplink: the only MQTT client. Publishes the outbox in order, marks events delivered on
//! PUBACK, keeps the retained status, and takes commands in.
//!
//! Session life cycle:
//!
//! ```text
//!                 CONNACK                                          cancel
//!  ┌────────────┐ ──────▶ ┌──────────────────────────────────┐ ─────────────▶ ┌──────────┐
//!  │ Connecting │         │ Online                           │                │ Goodbye  │
//!  └────────────┘         │  subscribe {p}/{gw}/cmd/+        │                │ wait ≤2 s│
//!     ▲      │ error      │  status online (retained)        │                │ for acks,│
//!     │      ▼            │  loop:                           │                │ status   │
//!  ┌─────────────┐        │   window free → read batch after │                │ offline, │
//!  │ Backoff     │ ◀───── │     cursor → publish QoS 1       │                │DISCONNECT│
//!  │ 0.5 s…60 s, │ error  │   PUBACK → mark seqs delivered   │                └──────────┘
//!  │ jittered    │        │   caught up → wait for commits   │
//!  └─────────────┘        └──────────────────────────────────┘
//! ```
//!
//! Broker nodes (`mqtt.host`, then `mqtt.failover_hosts`) are tried in turn: a session that
//! was online and is lost moves to the next node at once; a failed connect tries the next
//! node; the backoff delay comes after a whole round of nodes failed.
//!
//! Every session starts from a fresh rumqttc client and event loop, and from the oldest
//! undelivered event: rumqttc's own resend queue is never used, so the outbox is the single
//! source of truth for what still has to go. Batches published but not acknowledged when a
//! session dies are published again in the next one — at-least-once, with the same event ids.
//! The broker's Last Will (retained, QoS 1) says offline if the session dies without a goodbye.

mod inflight;
mod refusal;
mod topics;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rumqttc::{
    AsyncClient, Event, EventLoop, LastWill, MqttOptions, Outgoing, Packet, QoS, TlsConfiguration,
    Transport,
};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracegate_drivers::backoff::Reconnect;

pub use crate::uplink::tls::{TlsError, client_config};
pub use inflight::{Inflight, Publish};
pub use refusal::Refusal;
pub use topics::Topics;

use crate::config::{BrokerNode, Config, MqttConfig};
use crate::outbox::store::{OutboxReader, OutboxRow, Store};
use crate::telemetry::throttle::{Throttle, Throttled};
use crate::uplink::StatusSource;
use crate::uplink::wire::{self, IncomingCommand, Reply};
use tracegate_epcis::DocumentWriter;

/// The offline notice: the Last Will, and the goodbye on clean shutdown.
#[derive(Debug, Serialize)]
struct Offline<'a> {
    online: bool,
    gateway: &'a str,
    version: &'a str,
    reason: &'a str,
    at: Option<String>,
}

/// The shortest wait before trying a broker again that refused the connection.
const REFUSAL_RETRY_FLOOR: Duration = Duration::from_secs(5);

/// Requests the MQTT client queues beyond the publish window (status, command replies).
const REQUEST_QUEUE_SPARE: usize = 1024;

/// Largest incoming packet read without dropping the session (mosquitto's own default
/// `message_size_limit` is far larger; an incoming command above 64 KiB is refused anyway).
pub const MAX_INCOMING_PACKET: usize = 16 * 1024 * 1024;

/// The sync task.
pub struct Sync {
    config: Arc<Config>,
    /// `[mqtt]` (a config without it starts no sync task).
    mqtt: MqttConfig,
    /// Whether events go out here (false with `[epcis]`: they go to the repository, and
    /// this session carries status and commands only).
    carries_events: bool,
    topics: Topics,
    store: Store,
    status: Arc<dyn StatusSource>,
    commands: mpsc::Sender<IncomingCommand>,
    replies: mpsc::Receiver<Reply>,
    reader: Option<OutboxReader>,
    reader_generation: u64,
    reply_log: Throttle,
}

/// How a session ended.
enum SessionEnd {
    Shutdown,
    Failed {
        error: String,
        was_online: bool,
        /// The broker answered CONNECT with a refusal (not an outage).
        refused: Option<Refusal>,
    },
}

/// One step of the online loop, decided inside `select!` and carried out after it.
enum Step {
    Shutdown,
    Network(Result<Event, rumqttc::ConnectionError>),
    ReadDone(
        Result<(Option<OutboxReader>, rusqlite::Result<Vec<OutboxRow>>), tokio::task::JoinError>,
    ),
    NewCommits,
    StatusDue,
    Reply(Reply),
}

impl Sync {
    /// A sync task for `config`, publishing from `store`, reporting through `status`, handing
    /// commands to `commands` and publishing what arrives on `replies`.
    ///
    /// # Panics
    /// If `config` has no `[mqtt]` (the composition root starts none then).
    pub fn new(
        config: Arc<Config>,
        store: Store,
        status: Arc<dyn StatusSource>,
        commands: mpsc::Sender<IncomingCommand>,
        replies: mpsc::Receiver<Reply>,
    ) -> Self {
        let mqtt = config
            .mqtt
            .clone()
            .expect("an MQTT sync task is started only with [mqtt]");
        Sync {
            topics: Topics::new(&mqtt.topic_prefix, &config.gateway.id),
            carries_events: config.epcis.is_none(),
            mqtt,
            config,
            store,
            status,
            commands,
            replies,
            reader: None,
            reader_generation: 0,
            reply_log: Throttle::default(),
        }
    }

    /// Runs until `cancel`: connect, publish, reconnect with backoff, forever. With several
    /// broker nodes (`mqtt.failover_hosts`), a lost connection moves on to the next node at
    /// once and a failed connect tries the next; the backoff delay comes after a whole round
    /// of nodes failed.
    pub async fn run(mut self, cancel: CancellationToken) {
        let mqtt = self.mqtt();
        let mut backoff = Reconnect::new(
            Duration::from_millis(mqtt.reconnect_min_ms),
            Duration::from_secs(mqtt.reconnect_max_s),
        );
        let nodes = mqtt.nodes();
        let longest_backoff = Duration::from_secs(mqtt.reconnect_max_s);
        let mut node = 0;
        let mut failed_this_round = 0;
        let mut failures_in_a_row = 0u32;
        let mut refusals_in_a_row = 0u32;
        loop {
            if cancel.is_cancelled() {
                break;
            }
            let address = nodes[node].to_string();
            self.status
                .broker()
                .node(&nodes[node].host, nodes[node].port);
            let started = Instant::now();
            let end = match self.options(&nodes[node]) {
                Ok(options) => {
                    // Room for the publish window plus a burst of command replies: a reply
                    // that finds the request queue full is dropped (and counted).
                    let (client, eventloop) = AsyncClient::new(
                        options,
                        self.mqtt.max_inflight as usize + REQUEST_QUEUE_SPARE,
                    );
                    self.session(client, eventloop, &address, &cancel).await
                }
                Err(e) => SessionEnd::Failed {
                    error: e.to_string(),
                    was_online: false,
                    refused: None,
                },
            };
            let SessionEnd::Failed {
                error,
                was_online,
                refused,
            } = end
            else {
                break;
            };
            if let Some(refusal) = refused {
                // Reachable, but refused: say so as what it is, and try again only slowly
                // (a password or an ACL does not change by itself).
                self.status
                    .broker()
                    .refused(refusal.name(), refusal.explain(), error.clone());
                refusals_in_a_row += 1;
                let wait = Refusal::retry_after(longest_backoff, REFUSAL_RETRY_FLOOR);
                if refusals_in_a_row == 1 || refusals_in_a_row.is_multiple_of(60) {
                    tracing::warn!(
                        broker = %address,
                        attempts = refusals_in_a_row,
                        reason = refusal.name(),
                        "{}; trying again every {} s; events stay in the outbox",
                        refusal.explain(),
                        wait.as_secs()
                    );
                } else {
                    tracing::debug!(broker = %address, "connect refused: {error}");
                }
                node = (node + 1) % nodes.len();
                failed_this_round = 0;
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = cancel.cancelled() => break,
                }
                continue;
            }
            refusals_in_a_row = 0;
            self.status.broker().disconnected(Some(error.clone()));
            if was_online {
                failures_in_a_row = 0;
                failed_this_round = 0;
                tracing::warn!(broker = %address, "broker connection lost: {error}; reconnecting");
            } else {
                failures_in_a_row += 1;
                // Say it once loudly, then only now and then: a gateway may be offline for days.
                if failures_in_a_row == 1 || failures_in_a_row.is_multiple_of(60) {
                    tracing::warn!(broker = %address, attempts = failures_in_a_row, "cannot reach the broker: {error}; events stay in the outbox and will be sent when it is back");
                } else {
                    tracing::debug!(broker = %address, "connect failed: {error}");
                }
            }
            if was_online && started.elapsed() > Duration::from_secs(30) {
                backoff.reset();
            }
            failed_this_round += 1;
            if nodes.len() > 1 {
                node = (node + 1) % nodes.len();
                if failed_this_round < nodes.len() {
                    // Said once per loss; the rounds of a long outage stay out of the log
                    // (the "cannot reach" warning above is throttled).
                    if was_online {
                        tracing::info!(broker = %nodes[node], "trying the next broker node");
                    } else {
                        tracing::debug!(broker = %nodes[node], "trying the next broker node");
                    }
                    continue;
                }
            }
            failed_this_round = 0;
            tokio::select! {
                _ = tokio::time::sleep(backoff.next_delay()) => {}
                _ = cancel.cancelled() => break,
            }
        }
        self.status.broker().disconnected(None);
    }

    fn mqtt(&self) -> &MqttConfig {
        &self.mqtt
    }

    fn offline_payload(&self, reason: &str, at: Option<String>) -> Vec<u8> {
        serde_json::to_vec(&Offline {
            online: false,
            gateway: self.config.gateway.id.as_str(),
            version: env!("CARGO_PKG_VERSION"),
            reason,
            at,
        })
        .expect("offline notice serialises")
    }

    fn options(&self, node: &BrokerNode) -> Result<MqttOptions, TlsError> {
        let mqtt = self.mqtt();
        let mut options = MqttOptions::new(mqtt.client_id.clone(), node.host.clone(), node.port);
        options
            .set_keep_alive(Duration::from_secs(mqtt.keep_alive_s))
            // Commands are acted on only while online; a command queued for hours (print this
            // label) would be wrong by the time it arrived, so no persistent session.
            .set_clean_session(true)
            .set_inflight(mqtt.max_inflight.saturating_add(8))
            // Incoming: commands are refused above 64 KiB with a reply, but a larger message
            // must still be read, or the client would drop the session over it; outgoing: the
            // largest batch document plus its envelope.
            .set_max_packet_size(MAX_INCOMING_PACKET, mqtt.batch_max_bytes + 64 * 1024)
            .set_last_will(LastWill::new(
                self.topics.status.clone(),
                self.offline_payload("connection lost", None),
                QoS::AtLeastOnce,
                true,
            ));
        if let (Some(user), Some(password)) = (&mqtt.username, &mqtt.password) {
            options.set_credentials(user.clone(), password.expose().to_string());
        } else if let Some(user) = &mqtt.username {
            options.set_credentials(user.clone(), String::new());
        }
        if let Some(tls) = &mqtt.tls {
            let config = std::sync::Arc::new(client_config("mqtt.tls", tls)?);
            options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(config)));
        }
        Ok(options)
    }

    async fn session(
        &mut self,
        client: AsyncClient,
        mut eventloop: EventLoop,
        address: &str,
        cancel: &CancellationToken,
    ) -> SessionEnd {
        // Connecting: the first poll connects and returns the CONNACK.
        let first = tokio::select! {
            _ = cancel.cancelled() => return SessionEnd::Shutdown,
            first = eventloop.poll() => first,
        };
        match first {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {}
            Ok(other) => {
                return SessionEnd::Failed {
                    error: format!("unexpected first packet {other:?}"),
                    was_online: false,
                    refused: None,
                };
            }
            Err(e) => {
                return SessionEnd::Failed {
                    error: e.to_string(),
                    was_online: false,
                    refused: Refusal::of(&e),
                };
            }
        }
        self.status.broker().connected();
        tracing::info!(broker = %address, "connected to the broker");
        let mut online = Online {
            client,
            inflight: Inflight::default(),
            cursor: 0,
            caught_up: false,
            read: None,
        };
        if let Err(e) = online
            .client
            .try_subscribe(self.topics.commands.clone(), QoS::AtLeastOnce)
        {
            return SessionEnd::Failed {
                error: format!("subscribe: {e}"),
                was_online: true,
                refused: None,
            };
        }
        // Acks of the previous session may still be queued in the writer: commit them first so
        // this session does not resend what the broker already has.
        self.store.flush().await;
        self.publish_status(&mut online).await;
        let end = self.online(&mut online, &mut eventloop, cancel).await;
        if let SessionEnd::Shutdown = end {
            self.goodbye(&mut online, &mut eventloop).await;
        }
        // Get the reader back from a read still running.
        if let Some(read) = online.read.take()
            && let Ok((reader, _)) = read.await
        {
            self.reader = reader;
        }
        end
    }

    async fn online(
        &mut self,
        online: &mut Online,
        eventloop: &mut EventLoop,
        cancel: &CancellationToken,
    ) -> SessionEnd {
        let max_inflight = self.mqtt.max_inflight as usize;
        let mut stats = self.store.watch_stats();
        let status_every = Duration::from_secs(self.mqtt.status_interval_s);
        let mut status_tick =
            tokio::time::interval_at(tokio::time::Instant::now() + status_every, status_every);
        loop {
            if self.carries_events
                && online.read.is_none()
                && !online.caught_up
                && online.inflight.batches() < max_inflight
            {
                online.read = Some(self.spawn_read(online.cursor));
            }
            let step = tokio::select! {
                biased;
                _ = cancel.cancelled() => Step::Shutdown,
                event = eventloop.poll() => Step::Network(event),
                done = async { online.read.as_mut().expect("guarded").await }, if online.read.is_some() => Step::ReadDone(done),
                Some(reply) = self.replies.recv() => Step::Reply(reply),
                changed = stats.changed(), if online.caught_up => {
                    if changed.is_err() { Step::Shutdown } else { Step::NewCommits }
                }
                _ = status_tick.tick() => Step::StatusDue,
            };
            match step {
                Step::Shutdown => return SessionEnd::Shutdown,
                Step::Network(Ok(event)) => self.on_network_event(online, event).await,
                Step::Network(Err(e)) => {
                    return SessionEnd::Failed {
                        error: e.to_string(),
                        was_online: true,
                        refused: None,
                    };
                }
                Step::ReadDone(done) => {
                    online.read = None;
                    self.on_read(online, done).await;
                }
                Step::NewCommits => {
                    if stats.borrow_and_update().last_seq > online.cursor {
                        online.caught_up = false;
                    }
                }
                Step::StatusDue => {
                    // Also retries a failed outbox read, and catches anything a missed wake-up left.
                    online.caught_up = false;
                    self.publish_status(online).await;
                }
                Step::Reply(reply) => self.publish_reply(online, reply),
            }
        }
    }

    async fn on_network_event(&mut self, online: &mut Online, event: Event) {
        match event {
            Event::Outgoing(Outgoing::Publish(pkid)) => online.inflight.sent(pkid),
            Event::Incoming(Packet::PubAck(ack)) => {
                if let Some(Publish::Batch {
                    first,
                    last,
                    events,
                }) = online.inflight.acked(ack.pkid)
                {
                    self.store.mark_delivered(first, last).await;
                    self.status.broker().acked(events);
                }
            }
            Event::Incoming(Packet::Publish(publish)) => {
                let Some(name) = self.topics.command_name(&publish.topic) else {
                    return;
                };
                let command = IncomingCommand {
                    name: name.to_string(),
                    payload: publish.payload,
                };
                if let Err(e) = self.commands.try_send(command) {
                    // Answered busy rather than dropped: the platform learns to retry.
                    let command = e.into_inner();
                    self.status.commands().received();
                    self.status.commands().refused();
                    let reply = wire::busy(&command.name, &command.payload);
                    self.publish_reply(online, reply);
                }
            }
            _ => {}
        }
    }

    fn publish_reply(&mut self, online: &mut Online, reply: Reply) {
        let topic = self.topics.reply_to(&reply.id);
        match online
            .client
            .try_publish(topic, QoS::AtLeastOnce, false, reply.payload)
        {
            Ok(()) => online.inflight.queued(Publish::Control),
            Err(e) => {
                self.status.commands().reply_dropped();
                let log = self.reply_log.check();
                if log != Throttled::Quiet {
                    tracing::warn!(
                        "reply to {} dropped, the uplink's queue is full: {e}{}",
                        reply.id,
                        log.note()
                    );
                }
            }
        }
    }

    fn spawn_read(&mut self, after: i64) -> ReadTask {
        let generation = self.store.stats().generation;
        if generation != self.reader_generation {
            self.reader = None;
            self.reader_generation = generation;
        }
        let reader = self.reader.take();
        let store = self.store.clone();
        let max_events = self.mqtt.batch_max_events;
        let max_bytes = self.mqtt.batch_max_bytes;
        tokio::task::spawn_blocking(move || {
            let mut reader = match reader {
                Some(r) => r,
                None => match store.reader() {
                    Ok(r) => r,
                    Err(e) => return (None, Err(e)),
                },
            };
            let rows = reader.undelivered_after(after, max_events, max_bytes);
            (Some(reader), rows)
        })
    }

    async fn on_read(
        &mut self,
        online: &mut Online,
        done: Result<
            (Option<OutboxReader>, rusqlite::Result<Vec<OutboxRow>>),
            tokio::task::JoinError,
        >,
    ) {
        let (reader, rows) = match done {
            Ok(done) => done,
            Err(e) => {
                tracing::error!("outbox read task failed: {e}");
                return;
            }
        };
        self.reader = reader;
        let mut rows = match rows {
            Ok(rows) => rows,
            Err(e) => {
                self.reader = None;
                online.caught_up = true; // retry on the next commit or status tick
                if matches!(
                    e.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
                ) {
                    // An unreadable row must not stop delivery: the file is moved aside and
                    // what can be read is carried into a fresh outbox.
                    tracing::error!("the outbox is corrupt ({e}): moving it aside and salvaging");
                    self.store.quarantine(e.to_string()).await;
                } else {
                    tracing::error!("reading the outbox failed: {e}; retrying");
                }
                return;
            }
        };
        // An event larger than a message can carry would stop delivery for good: it is set
        // aside (kept, counted, listed by `tracegate events set-aside`) before anything after
        // it is published, so the mark of the batch that follows cannot touch it.
        let limit = self.mqtt.batch_max_bytes;
        let set_aside_some = rows.iter().any(|r| r.body.len() > limit);
        if set_aside_some {
            let (unsendable, sendable): (Vec<OutboxRow>, Vec<OutboxRow>) =
                rows.into_iter().partition(|r| r.body.len() > limit);
            for row in unsendable {
                let reason = format!(
                    "the event has {} bytes, more than one MQTT message carries (mqtt.batch_max_bytes = {limit})",
                    row.body.len()
                );
                tracing::error!(
                    seq = row.seq,
                    "event SET ASIDE, not published: {reason}; see `tracegate events set-aside`"
                );
                self.store.set_aside(row.seq, reason).await;
                online.cursor = online.cursor.max(row.seq);
            }
            rows = sendable;
        }
        let (Some(first), Some(last)) = (rows.first().map(|r| r.seq), rows.last().map(|r| r.seq))
        else {
            // Nothing left to send in this read; after a set-aside, read on past it.
            online.caught_up = !set_aside_some;
            return;
        };
        let bytes: usize = rows.iter().map(|r| r.body.len() + 1).sum();
        let mut doc = DocumentWriter::new(jiff::Timestamp::now(), bytes);
        for row in &rows {
            doc.push(&row.body);
        }
        let events = doc.len();
        // A batch holds one gateway's events (the reader cuts it where the origin changes).
        let topic = self.topics.events_of(rows[0].origin.as_deref());
        match online
            .client
            .try_publish(topic, QoS::AtLeastOnce, false, doc.finish())
        {
            Ok(()) => {
                online.inflight.queued(Publish::Batch {
                    first,
                    last,
                    events,
                });
                online.cursor = last;
                self.status.broker().published(events);
            }
            Err(e) => {
                // The request queue is sized above the window, so this means the event loop is
                // gone; the session is ending and the next one starts from the outbox again.
                tracing::debug!("publish not queued: {e}");
            }
        }
    }

    async fn publish_status(&mut self, online: &mut Online) {
        let status = self.status.clone();
        let Ok(payload) = tokio::task::spawn_blocking(move || status.report_json()).await else {
            return;
        };
        if online
            .client
            .try_publish(self.topics.status.clone(), QoS::AtLeastOnce, true, payload)
            .is_ok()
        {
            online.inflight.queued(Publish::Control);
        }
    }

    /// Clean shutdown: let in-flight batches be acknowledged (at most 2 s), then say offline
    /// (retained) and disconnect, so the broker does not send the Last Will.
    async fn goodbye(&mut self, online: &mut Online, eventloop: &mut EventLoop) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while online.inflight.batches() > 0 {
            match tokio::time::timeout_at(deadline, eventloop.poll()).await {
                Ok(Ok(event)) => self.on_network_event(online, event).await,
                _ => break,
            }
        }
        let at = Some(format!("{:.3}", jiff::Timestamp::now()));
        let _ = online.client.try_publish(
            self.topics.status.clone(),
            QoS::AtLeastOnce,
            true,
            self.offline_payload("shutdown", at),
        );
        let _ = online.client.try_disconnect();
        loop {
            match tokio::time::timeout_at(deadline + Duration::from_secs(1), eventloop.poll()).await
            {
                Ok(Ok(Event::Outgoing(Outgoing::Disconnect))) | Ok(Err(_)) | Err(_) => break,
                Ok(Ok(event)) => self.on_network_event(online, event).await,
            }
        }
        self.status.broker().disconnected(None);
        tracing::info!("disconnected from the broker");
    }
}

type ReadTask = JoinHandle<(Option<OutboxReader>, rusqlite::Result<Vec<OutboxRow>>)>;

/// State of one online session.
struct Online {
    client: AsyncClient,
    inflight: Inflight,
    /// Highest seq published in this session.
    cursor: i64,
    /// Nothing after `cursor` was undelivered at the last read.
    caught_up: bool,
    read: Option<ReadTask>,
}

impl crate::uplink::Uplink for Sync {
    fn name(&self) -> &'static str {
        "mqtt"
    }

    fn run(
        self: Box<Self>,
        cancel: CancellationToken,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        Box::pin(Sync::run(*self, cancel))
    }
}
