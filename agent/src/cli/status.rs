//! `tracegate status`: ask the daemon, or read the outbox when no daemon answers.

use jiff::Timestamp;

use crate::config::Config;
use crate::ops::status::{StatusReport, offline_report};
use crate::outbox::store::OutboxReader;

/// The report from the running daemon, or from the outbox file.
pub async fn collect(config: &Config) -> anyhow::Result<StatusReport> {
    let socket = config.control_socket();
    match crate::commands::control::request(&socket, &serde_json::json!({"cmd": "status"})).await {
        Ok(answer) => {
            if let Some(error) = answer.get("error") {
                anyhow::bail!("the daemon answered with an error: {error}");
            }
            Ok(serde_json::from_value(answer)?)
        }
        Err(_) => {
            let path = &config.store.path;
            let mut reader = OutboxReader::open(path).map_err(|e| {
                anyhow::anyhow!(
                    "no daemon answers on {} and the outbox {} cannot be read: {e}",
                    socket.display(),
                    path.display()
                )
            })?;
            Ok(offline_report(config, &mut reader)?)
        }
    }
}

/// The human view of a report.
pub fn render(report: &StatusReport) -> String {
    let mut out = String::new();
    let daemon = if report.daemon.running {
        format!(
            "daemon running (pid {}, up {}{})",
            report.daemon.pid.unwrap_or(0),
            duration(report.daemon.uptime_s.unwrap_or(0)),
            report
                .daemon
                .rss_bytes
                .map(|b| format!(", RSS {}", bytesize::ByteSize::b(b).display().iec()))
                .unwrap_or_default()
        )
    } else {
        "daemon NOT running (figures from the outbox file)".to_string()
    };
    out.push_str(&format!(
        "gateway {} · tracegate {} · {daemon}\n",
        report.gateway, report.version
    ));
    let b = &report.broker;
    let broker = if b.connected {
        format!("connected to {}:{}", b.host, b.port)
    } else if let Some(refused) = b.refused.as_ref().filter(|_| report.daemon.running) {
        format!(
            "NOT connected to {}:{}: {}",
            b.host, b.port, refused.explanation
        )
    } else if report.daemon.running {
        format!(
            "NOT connected to {}:{}{}",
            b.host,
            b.port,
            b.last_error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        )
    } else {
        format!("{}:{}", b.host, b.port)
    };
    let ack = b
        .last_ack_at
        .as_deref()
        .map(ago)
        .map(|a| format!(" · last ack {a}"))
        .unwrap_or_default();
    let traffic = if report.daemon.running {
        format!(
            " · {:.1} events/s · {} acked · {} reconnects",
            b.publish_rate_per_s, b.events_acked_total, b.reconnects_total
        )
    } else {
        String::new()
    };
    if !b.host.is_empty() {
        out.push_str(&format!("broker   {broker}{ack}{traffic}\n"));
    }
    if let Some(e) = &report.uplink.epcis {
        out.push_str(&epcis_line(e, report.daemon.running));
    }
    let q = &report.queue;
    let oldest = q
        .oldest_undelivered_age_s
        .map(|s| format!(" (oldest {})", duration(s)))
        .unwrap_or_default();
    out.push_str(&format!(
        "queue    {} undelivered{oldest} · {} delivered · {} refused · {} dropped · db {}{}\n",
        q.undelivered,
        q.delivered_total,
        q.refused_total,
        q.dropped_total,
        bytesize::ByteSize::b(q.db_bytes).display().iec(),
        if q.full {
            format!(" · FULL ({})", q.when_full)
        } else {
            String::new()
        }
    ));
    // The uplink that carries events: the repository with [epcis], else the broker.
    let (offline_s, offline_since) = match &report.uplink.epcis {
        Some(e) => (e.offline_s, e.offline_since.clone()),
        None => (report.broker.offline_s, report.broker.offline_since.clone()),
    };
    if let Some(offline) = offline_s.filter(|&s| s >= 60 || q.undelivered > 0) {
        // A field kit out of coverage: how long, and how long the outbox holds out.
        let room = q
            .capacity_left_days
            .map(|d| {
                format!(
                    " · room for about {} more at {:.0} events/h",
                    days(d),
                    q.capture_rate_per_h
                )
            })
            .unwrap_or_default();
        out.push_str(&format!(
            "offline  uplink down for {}{} · {} events waiting{room}\n",
            duration(offline),
            offline_since
                .as_deref()
                .map(|t| format!(" (since {t})"))
                .unwrap_or_default(),
            q.undelivered,
        ));
    }
    if q.disk_full {
        out.push_str(&format!(
            "DISK     FULL: reads are NOT captured until space is freed ({} failed commits, {} delivery marks to write again)\n",
            q.write_failures_total, q.pending_retries
        ));
    }
    if q.lost_total > 0 || q.salvaged_total > 0 {
        out.push_str(&format!(
            "DAMAGE   {} events salvaged from a damaged outbox · {} committed events LOST (see the log)\n",
            q.salvaged_total, q.lost_total
        ));
    }
    if q.set_aside_total > 0 {
        out.push_str(&format!(
            "SET ASIDE {} events could not be published: `tracegate events set-aside` lists them\n",
            q.set_aside_total
        ));
    }
    if let Some(latency) = q.commit_latency.as_ref().filter(|l| l.count > 0) {
        out.push_str(&format!(
            "commits  {} · p50 {:.2} ms · p99 {:.2} ms\n",
            latency.count,
            latency.p50_ms.unwrap_or(0.0),
            latency.p99_ms.unwrap_or(0.0)
        ));
    }
    if let Some(clock) = &report.clock
        && let Some(advice) = &clock.advice
    {
        out.push_str(&format!(
            "CLOCK    {} reads held{} — {advice}\n",
            clock.held,
            clock
                .holding_since
                .as_deref()
                .map(|t| format!(" since {t}"))
                .unwrap_or_default()
        ));
    }
    if let Some(p) = &report.print {
        out.push_str(&format!(
            "print    {} waiting · {} printing · {} confirmed · {} failed · {} voided{}\n",
            p.submitted,
            p.sent,
            p.confirmed,
            p.failed,
            p.voided,
            if p.unknown > 0 {
                format!(
                    " · {} UNKNOWN, waiting for a decision (print-decide KEY reprint|printed|void): {}",
                    p.unknown,
                    p.undecided.join(", ")
                )
            } else {
                String::new()
            }
        ));
    }
    if let Some(i) = &report.integrity {
        out.push_str(&format!(
            "signing  {}:{} · chain at seq {}\n",
            i.algorithm, i.public_key, i.chain_seq
        ));
    }
    for (origin, i) in &report.imports {
        out.push_str(&format!(
            "imports  {origin}: {} new · {} imported before{}\n",
            i.new,
            i.skipped,
            if i.refused > 0 {
                format!(" · {} REFUSED (outbox full)", i.refused)
            } else {
                String::new()
            }
        ));
    }
    out.push_str("devices\n");
    if report.devices.is_empty() {
        out.push_str("  (none configured)\n");
    }
    for d in &report.devices {
        let last = d
            .last_read_at
            .as_deref()
            .map(ago)
            .unwrap_or_else(|| "never".into());
        let detail = d
            .detail
            .as_deref()
            .map(|x| format!(" — {x}"))
            .unwrap_or_default();
        // What a device's capabilities make meaningful: read figures for a device that reads;
        // a light, a printer or a GPIO input shows its outputs, labels or lines below instead.
        if d.reads {
            out.push_str(&format!(
                "  {:<16} {:<16} {:<10} reads {:<8} errors {:<6} rejects {:<6} repeats {:<6} last read {last}{detail}\n",
                d.id, d.kind, d.state, d.reads_total, d.errors_total, d.rejects_total, d.duplicates_total
            ));
        } else {
            out.push_str(&format!(
                "  {:<16} {:<16} {:<10}{detail}\n",
                d.id, d.kind, d.state
            ));
        }
        if let Some(reason) = &d.last_reject {
            out.push_str(&format!("  {:<16} last reject: {reason}\n", ""));
        }
        if !d.outputs.is_empty() {
            let lines: Vec<String> = d
                .outputs
                .iter()
                .map(|(line, on)| match d.patterns.get(line) {
                    Some(shown) if *on => format!("{line} {shown}"),
                    _ => format!("{line} {}", if *on { "ON" } else { "off" }),
                })
                .collect();
            out.push_str(&format!("  {:<16} outputs: {}\n", "", lines.join(" · ")));
        }
        if !d.inputs.is_empty() {
            let lines: Vec<String> = d
                .inputs
                .iter()
                .map(|(line, i)| format!("{line} {} since {}", i.state, i.since))
                .collect();
            out.push_str(&format!(
                "  {:<16} inputs: {} · edges {}\n",
                "",
                lines.join(" · "),
                d.edges_total
            ));
        }
        if let Some(p) = &d.printer {
            let left = p
                .labels_remaining
                .filter(|&n| n > 0)
                .map(|n| format!(" · {n} labels left in the batch"))
                .unwrap_or_default();
            out.push_str(&format!(
                "  {:<16} printer: {} since {}{left} · faults {}\n",
                "", p.state, p.since, p.faults_total
            ));
        }
        if let Some(r) = &d.rfid {
            out.push_str(&format!(
                "  {:<16} tags in view {} · in {} · out {} · undecided {} · arrived {} · departed {} · filtered {} · below floor {} · over cap {}\n",
                "",
                r.tags_present,
                r.in_total,
                r.out_total,
                r.undecided_total,
                r.arrivals_total,
                r.departures_total,
                r.filtered_total,
                r.below_floor_total,
                r.over_cap_total
            ));
        }
    }
    out
}

fn ago(rfc3339: &str) -> String {
    match rfc3339.parse::<Timestamp>() {
        Ok(t) => format!(
            "{} ago",
            duration(Timestamp::now().duration_since(t).as_secs().max(0) as u64)
        ),
        Err(_) => rfc3339.to_string(),
    }
}

fn duration(s: u64) -> String {
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

/// A number of days in words: hours below two days, weeks from three on.
fn days(d: f64) -> String {
    if d < 2.0 {
        format!("{:.0} h", d * 24.0)
    } else if d < 21.0 {
        format!("{d:.0} days")
    } else {
        format!("{:.0} weeks", d / 7.0)
    }
}

/// The EPCIS repository uplink's line: reachable, refused or away; what it captured; jobs;
/// failures by kind.
fn epcis_line(e: &crate::telemetry::RepositoryReport, running: bool) -> String {
    let state = if !running {
        e.url.clone()
    } else if let Some(refused) = &e.credentials_refused {
        format!("{} REFUSES this gateway's credential: {refused}", e.url)
    } else if e.connected {
        format!("delivering to {}", e.url)
    } else {
        format!(
            "NOT reaching {}{}",
            e.url,
            e.last_error
                .as_deref()
                .map(|err| format!(" ({err})"))
                .unwrap_or_default()
        )
    };
    let success = e
        .last_success_at
        .as_deref()
        .map(ago)
        .map(|a| format!(" · last capture {a}"))
        .unwrap_or_default();
    let failures: Vec<String> = e
        .failures
        .iter()
        .map(|(kind, n)| format!("{n} {kind}"))
        .collect();
    let failures = if failures.is_empty() {
        String::new()
    } else {
        format!(" · failures: {}", failures.join(", "))
    };
    format!(
        "epcis    {state}{success} · {} captured ({} already held) · {} set aside · {} job{} running{failures}\n",
        e.events_captured_total,
        e.already_captured_total,
        e.set_aside_total,
        e.jobs_running,
        if e.jobs_running == 1 { "" } else { "s" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(5), "5 s");
        assert_eq!(duration(65), "1m05s");
        assert_eq!(duration(3 * 3600 + 120), "3h02m");
        assert_eq!(duration(2 * 86400 + 3600), "2d01h");
    }

    #[test]
    fn room_left_reads_in_hours_days_or_weeks() {
        assert_eq!(days(0.5), "12 h");
        assert_eq!(days(9.4), "9 days");
        assert_eq!(days(70.0), "10 weeks");
    }
}
