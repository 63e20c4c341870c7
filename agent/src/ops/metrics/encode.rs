//! The status report as Prometheus text (exposition format 0.0.4), through
//! `prometheus-client`'s encoder: one collector that turns a [`StatusReport`] into metric
//! families at scrape time, so `/metrics`, the retained status message and `tracegate
//! status` always show the same figures.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use crate::ops::status::StatusReport;
use crate::telemetry::latency::LatencySnapshot;

/// The Content-Type of the body.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// `report` in the Prometheus text format.
pub fn render(report: StatusReport) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(ReportCollector(report)));
    let mut out = String::with_capacity(8 * 1024);
    prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)
        .expect("writing to a String cannot fail");
    out
}

#[derive(Debug)]
struct ReportCollector(StatusReport);

type Fmt = Result<(), std::fmt::Error>;

fn counter(e: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> Fmt {
    e.encode_descriptor(name, help, None, MetricType::Counter)?
        .encode_counter::<NoLabelSet, _, u64>(&v, None)
}

fn gauge(e: &mut DescriptorEncoder, name: &str, help: &str, unit: Option<Unit>, v: f64) -> Fmt {
    e.encode_descriptor(name, help, unit.as_ref(), MetricType::Gauge)?
        .encode_gauge(&v)
}

fn histogram(e: &mut DescriptorEncoder, name: &str, help: &str, h: &LatencySnapshot) -> Fmt {
    // The encoder wants per-bucket counts; the snapshot has cumulative ones.
    let mut previous = 0;
    let buckets: Vec<(f64, u64)> = h
        .buckets
        .iter()
        .filter_map(|b| {
            let le = b.le_s?;
            let own = b.count - previous;
            previous = b.count;
            Some((le, own))
        })
        .collect();
    e.encode_descriptor(name, help, Some(&Unit::Seconds), MetricType::Histogram)?
        .encode_histogram::<NoLabelSet>(h.sum_s, h.count, &buckets, None)
}

/// One labelled sample per device.
fn per_device(
    e: &mut DescriptorEncoder,
    report: &StatusReport,
    name: &str,
    help: &str,
    metric_type: MetricType,
    value: impl Fn(&crate::telemetry::DeviceReport) -> u64,
) -> Fmt {
    let mut family = e.encode_descriptor(name, help, None, metric_type)?;
    for d in &report.devices {
        let labels = [("device", d.id.as_str()), ("kind", d.kind.as_str())];
        let mut sample = family.encode_family(&labels)?;
        match metric_type {
            MetricType::Counter => sample.encode_counter::<NoLabelSet, _, u64>(&value(d), None)?,
            _ => sample.encode_gauge(&value(d))?,
        }
    }
    Ok(())
}

/// A family with one sample per RFID reader (devices without smoothing figures have none).
fn per_reader(
    e: &mut DescriptorEncoder,
    report: &StatusReport,
    name: &str,
    help: &str,
    metric_type: MetricType,
    value: impl Fn(&crate::telemetry::RfidReport) -> u64,
) -> Fmt {
    per_section(
        e,
        report,
        name,
        help,
        metric_type,
        |d| d.rfid.as_ref(),
        value,
    )
}

/// A family with one sample per label printer.
fn per_printer(
    e: &mut DescriptorEncoder,
    report: &StatusReport,
    name: &str,
    help: &str,
    metric_type: MetricType,
    value: impl Fn(&crate::telemetry::PrinterReport) -> u64,
) -> Fmt {
    per_section(
        e,
        report,
        name,
        help,
        metric_type,
        |d| d.printer.as_ref(),
        value,
    )
}

/// A family with one sample per device that has the report section `section` picks.
fn per_section<T>(
    e: &mut DescriptorEncoder,
    report: &StatusReport,
    name: &str,
    help: &str,
    metric_type: MetricType,
    section: impl Fn(&crate::telemetry::DeviceReport) -> Option<&T>,
    value: impl Fn(&T) -> u64,
) -> Fmt {
    let mut family = e.encode_descriptor(name, help, None, metric_type)?;
    for d in &report.devices {
        let Some(part) = section(d) else { continue };
        let labels = [("device", d.id.as_str()), ("kind", d.kind.as_str())];
        let mut sample = family.encode_family(&labels)?;
        match metric_type {
            MetricType::Counter => {
                sample.encode_counter::<NoLabelSet, _, u64>(&value(part), None)?
            }
            _ => sample.encode_gauge(&value(part))?,
        }
    }
    Ok(())
}

/// Print jobs by state (a config with label printers).
fn print_jobs(e: &mut DescriptorEncoder, report: &StatusReport) -> Fmt {
    let Some(p) = &report.print else {
        return Ok(());
    };
    let mut family = e.encode_descriptor(
        "tracegate_print_jobs",
        "Print jobs in the durable queue by state (unknown: waiting for an operator's reprint, printed or void decision).",
        None,
        MetricType::Gauge,
    )?;
    for (state, n) in [
        ("submitted", p.submitted),
        ("sent", p.sent),
        ("confirmed", p.confirmed),
        ("failed", p.failed),
        ("unknown", p.unknown),
        ("voided", p.voided),
    ] {
        family
            .encode_family(&[("state", state)])?
            .encode_gauge(&n)?;
    }
    Ok(())
}

/// Tag movements by kind, one sample per reader and movement.
fn movements(e: &mut DescriptorEncoder, report: &StatusReport) -> Fmt {
    let mut family = e.encode_descriptor(
        "tracegate_rfid_movements",
        "Tag movements recorded (arrived, departed, in, out, undecided).",
        None,
        MetricType::Counter,
    )?;
    for d in &report.devices {
        let Some(r) = &d.rfid else { continue };
        for (movement, n) in [
            ("arrived", r.arrivals_total),
            ("departed", r.departures_total),
            ("in", r.in_total),
            ("out", r.out_total),
            ("undecided", r.undecided_total),
        ] {
            let labels = [("device", d.id.as_str()), ("movement", movement)];
            family
                .encode_family(&labels)?
                .encode_counter::<NoLabelSet, _, u64>(&n, None)?;
        }
    }
    Ok(())
}

impl Collector for ReportCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> Fmt {
        let r = &self.0;
        let e = &mut e;

        e.encode_descriptor(
            "tracegate_build_info",
            "tracegate version and gateway id (value is always 1).",
            None,
            MetricType::Gauge,
        )?
        .encode_family(&[
            ("version", r.version.as_str()),
            ("gateway", r.gateway.as_str()),
        ])?
        .encode_gauge(&1u64)?;
        if let Some(rss) = r.daemon.rss_bytes {
            gauge(
                e,
                "process_resident_memory",
                "Resident memory size of the daemon.",
                Some(Unit::Bytes),
                rss as f64,
            )?;
        }
        if let Some(uptime) = r.daemon.uptime_s {
            gauge(
                e,
                "tracegate_uptime",
                "Time since the daemon started.",
                Some(Unit::Seconds),
                uptime as f64,
            )?;
        }

        // Devices.
        per_device(
            e,
            r,
            "tracegate_device_reads",
            "Reads received from the device.",
            MetricType::Counter,
            |d| d.reads_total,
        )?;
        per_device(
            e,
            r,
            "tracegate_device_rejects",
            "Reads rejected by identifier validation (malformed or not accepted).",
            MetricType::Counter,
            |d| d.rejects_total,
        )?;
        per_device(
            e,
            r,
            "tracegate_device_duplicates",
            "Repeated reads dropped within the device's dedupe_ms window.",
            MetricType::Counter,
            |d| d.duplicates_total,
        )?;
        per_device(
            e,
            r,
            "tracegate_device_errors",
            "Bad frames and failed captures.",
            MetricType::Counter,
            |d| d.errors_total,
        )?;
        per_device(
            e,
            r,
            "tracegate_device_oversized",
            "Reads not captured because their event was larger than the uplink sends.",
            MetricType::Counter,
            |d| d.oversized_total,
        )?;
        per_device(
            e,
            r,
            "tracegate_device_feedback_dropped",
            "Operator feedback tones dropped (inbox full or device down); silence means rescan.",
            MetricType::Counter,
            |d| d.feedback_dropped_total,
        )?;
        per_device(
            e,
            r,
            "tracegate_device_feedback_late",
            "Verdicts that came too late for a tone.",
            MetricType::Counter,
            |d| d.feedback_late_total,
        )?;
        per_device(
            e,
            r,
            "tracegate_device_signals",
            "Feedback-rule patterns sent to output lines for the device's outcomes.",
            MetricType::Counter,
            |d| d.signals_total,
        )?;
        per_device(
            e,
            r,
            "tracegate_device_input_edges",
            "Settled (debounced) edges on the device's input lines.",
            MetricType::Counter,
            |d| d.edges_total,
        )?;
        per_printer(
            e,
            r,
            "tracegate_printer_faults",
            "Label printer faults (paper out, head open, silent …) that appeared since start.",
            MetricType::Counter,
            |p| p.faults_total,
        )?;
        per_printer(
            e,
            r,
            "tracegate_printer_ready",
            "Label printers: 1 while no fault stands, 0 while one holds the printer.",
            MetricType::Gauge,
            |p| u64::from(p.ready),
        )?;
        per_device(
            e,
            r,
            "tracegate_device_up",
            "1 while the device is connected, 0 while it is down or connecting.",
            MetricType::Gauge,
            |d| u64::from(d.state == "up"),
        )?;

        // RFID readers.
        print_jobs(e, r)?;
        movements(e, r)?;
        per_reader(
            e,
            r,
            "tracegate_rfid_tags_present",
            "Tags the reader's smoothing follows now.",
            MetricType::Gauge,
            |x| x.tags_present,
        )?;
        per_reader(
            e,
            r,
            "tracegate_rfid_filtered",
            "Tags and sightings filtered out (EPC filters, antennas in no zone).",
            MetricType::Counter,
            |x| x.filtered_total,
        )?;
        per_reader(
            e,
            r,
            "tracegate_rfid_below_floor",
            "Sightings weaker than rssi_floor_dbm.",
            MetricType::Counter,
            |x| x.below_floor_total,
        )?;
        per_reader(
            e,
            r,
            "tracegate_rfid_over_cap",
            "New tags not followed because max_tags were followed already.",
            MetricType::Counter,
            |x| x.over_cap_total,
        )?;

        // Outbox.
        let q = &r.queue;
        gauge(
            e,
            "tracegate_outbox_undelivered_events",
            "Events not yet acknowledged by the broker (held reads included).",
            None,
            q.undelivered as f64,
        )?;
        gauge(
            e,
            "tracegate_outbox_held_reads",
            "Reads held until the clock is synchronised.",
            None,
            q.held as f64,
        )?;
        gauge(
            e,
            "tracegate_outbox_stored_events",
            "Events in the outbox, undelivered and recently delivered.",
            None,
            q.stored_events as f64,
        )?;
        gauge(
            e,
            "tracegate_outbox_stored",
            "Event bytes counted against store.max_bytes.",
            Some(Unit::Bytes),
            q.stored_bytes as f64,
        )?;
        gauge(
            e,
            "tracegate_outbox_db",
            "Size of the outbox database on disk (file plus WAL).",
            Some(Unit::Bytes),
            q.db_bytes as f64,
        )?;
        gauge(
            e,
            "tracegate_capture_rate_per_hour",
            "Events captured an hour, over the last six hours or since start.",
            None,
            q.capture_rate_per_h,
        )?;
        if let Some(days) = q.capacity_left_days {
            gauge(
                e,
                "tracegate_outbox_capacity_left_days",
                "Days until the outbox bounds are reached at the capture rate if nothing is delivered.",
                None,
                days,
            )?;
        }
        gauge(
            e,
            "tracegate_outbox_oldest_undelivered_age",
            "Age of the oldest undelivered event (0 when everything is delivered).",
            Some(Unit::Seconds),
            q.oldest_undelivered_age_s.unwrap_or(0) as f64,
        )?;
        gauge(
            e,
            "tracegate_outbox_full",
            "1 when the latest append found the outbox full.",
            None,
            f64::from(u8::from(q.full)),
        )?;
        counter(
            e,
            "tracegate_outbox_delivered",
            "Events acknowledged by the broker, ever.",
            q.delivered_total,
        )?;
        counter(
            e,
            "tracegate_outbox_refused",
            "Events refused because the outbox was full (when_full = refuse-new), ever.",
            q.refused_total,
        )?;
        counter(
            e,
            "tracegate_outbox_dropped",
            "Undelivered events dropped to make room (when_full = drop-oldest), ever.",
            q.dropped_total,
        )?;
        counter(
            e,
            "tracegate_outbox_set_aside",
            "Events set aside because they could not be published, ever.",
            q.set_aside_total,
        )?;
        counter(
            e,
            "tracegate_outbox_exported",
            "Events written to an export (tracegate export), ever.",
            q.exported_total,
        )?;
        counter(
            e,
            "tracegate_outbox_salvaged",
            "Events carried out of a damaged outbox into a fresh one, ever.",
            q.salvaged_total,
        )?;
        counter(
            e,
            "tracegate_outbox_lost",
            "Committed events found lost (unreadable rows of a damaged outbox, a torn write-ahead log), ever.",
            q.lost_total,
        )?;
        gauge(
            e,
            "tracegate_outbox_disk_full",
            "1 while the outbox's file system is full (reads are not captured).",
            None,
            f64::from(u8::from(q.disk_full)),
        )?;
        counter(
            e,
            "tracegate_outbox_write_failures",
            "Outbox commits that failed since start (disk full, I/O errors).",
            q.write_failures_total,
        )?;
        counter(
            e,
            "tracegate_commands_received",
            "Commands received (MQTT and control socket) since start.",
            r.commands.received_total,
        )?;
        counter(
            e,
            "tracegate_commands_refused",
            "Commands refused before anything was done (malformed, unknown, oversized, busy).",
            r.commands.refused_total,
        )?;
        counter(
            e,
            "tracegate_commands_failed",
            "Commands carried out that failed.",
            r.commands.failed_total,
        )?;
        counter(
            e,
            "tracegate_command_replies_dropped",
            "Command replies the uplink could not queue.",
            r.commands.replies_dropped_total,
        )?;
        if let Some(page) = &r.page {
            counter(
                e,
                "tracegate_page_sign_ins",
                "Operators signed in on the commissioning page since start.",
                page.sign_ins_total,
            )?;
            counter(
                e,
                "tracegate_page_refused",
                "Commissioning page requests refused (sign-in needed, wrong password, too many tries, cross-site, no CSRF token, a bad body).",
                page.refused_total,
            )?;
            counter(
                e,
                "tracegate_page_actions",
                "Actions sent from the commissioning page to the command router.",
                page.actions_total,
            )?;
            counter(
                e,
                "tracegate_page_connections_refused",
                "Connections to the commissioning page closed at accept: every slot was taken.",
                page.connections_refused_total,
            )?;
            gauge(
                e,
                "tracegate_page_streams",
                "Commissioning pages watching now (live streams open).",
                None,
                page.streams as f64,
            )?;
        }
        if let Some(latency) = &q.commit_latency {
            histogram(
                e,
                "tracegate_outbox_commit_duration",
                "Outbox transactions from BEGIN to the end of their fsync.",
                latency,
            )?;
        }

        // Uplink.
        let b = &r.broker;
        gauge(
            e,
            "tracegate_mqtt_connected",
            "1 while the MQTT session is up.",
            None,
            f64::from(u8::from(b.connected)),
        )?;
        // The uplink that carries events: the repository with [epcis], else the broker.
        let offline = match &r.uplink.epcis {
            Some(epcis) => epcis.offline_s,
            None => b.offline_s,
        };
        gauge(
            e,
            "tracegate_uplink_offline",
            "How long the uplink that carries events has been down (0 while connected).",
            Some(Unit::Seconds),
            offline.unwrap_or(0) as f64,
        )?;
        counter(
            e,
            "tracegate_mqtt_connects",
            "MQTT sessions established since start.",
            b.connects_total,
        )?;
        counter(
            e,
            "tracegate_mqtt_connect_refusals",
            "CONNECTs the broker refused (bad credentials, not authorised, client id) since start.",
            b.connect_refusals_total,
        )?;
        gauge(
            e,
            "tracegate_mqtt_refused",
            "1 while the broker refuses this gateway's CONNECT (check mqtt.username, mqtt.password_file, the broker's ACL).",
            None,
            f64::from(u8::from(b.refused.is_some())),
        )?;
        counter(
            e,
            "tracegate_mqtt_reconnects",
            "MQTT sessions established after the first since start.",
            b.reconnects_total,
        )?;
        counter(
            e,
            "tracegate_mqtt_events_published",
            "Events handed to the MQTT client since start (resends included).",
            b.events_published_total,
        )?;
        counter(
            e,
            "tracegate_mqtt_events_acked",
            "Events acknowledged by the broker (PUBACK) since start.",
            b.events_acked_total,
        )?;
        gauge(
            e,
            "tracegate_mqtt_publish_rate_events_per_second",
            "Events published per second over about the last minute.",
            None,
            b.publish_rate_per_s,
        )?;
        if let Some(epcis) = &r.uplink.epcis {
            repository(e, epcis)?;
        }
        Ok(())
    }
}

/// The EPCIS repository uplink's figures (`[epcis]`).
fn repository(e: &mut DescriptorEncoder, r: &crate::telemetry::RepositoryReport) -> Fmt {
    gauge(
        e,
        "tracegate_epcis_connected",
        "1 while the EPCIS repository answers.",
        None,
        f64::from(u8::from(r.connected)),
    )?;
    gauge(
        e,
        "tracegate_epcis_credentials_refused",
        "1 while the EPCIS repository refuses this gateway's credential (401/403).",
        None,
        f64::from(u8::from(r.credentials_refused.is_some())),
    )?;
    counter(
        e,
        "tracegate_epcis_events_posted",
        "Events posted to the EPCIS repository since start (resends included).",
        r.events_posted_total,
    )?;
    counter(
        e,
        "tracegate_epcis_events_captured",
        "Events the EPCIS repository captured (capture job success) since start.",
        r.events_captured_total,
    )?;
    counter(
        e,
        "tracegate_epcis_events_already_captured",
        "Events the EPCIS repository said it already held (a resend) since start.",
        r.already_captured_total,
    )?;
    counter(
        e,
        "tracegate_epcis_events_set_aside",
        "Events set aside with the EPCIS repository's reason since start.",
        r.set_aside_total,
    )?;
    counter(
        e,
        "tracegate_epcis_jobs",
        "Capture jobs since start.",
        r.jobs_total,
    )?;
    gauge(
        e,
        "tracegate_epcis_jobs_running",
        "Capture jobs being watched now.",
        None,
        r.jobs_running as f64,
    )?;
    let mut family = e.encode_descriptor(
        "tracegate_epcis_failures",
        "Requests to the EPCIS repository that did not capture, by kind, since start.",
        None,
        MetricType::Counter,
    )?;
    for (kind, n) in &r.failures {
        let labels = [("kind", kind.as_str())];
        family
            .encode_family(&labels)?
            .encode_counter::<NoLabelSet, _, u64>(n, None)?;
    }
    Ok(())
}
