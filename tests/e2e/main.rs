//! The end-to-end tests: the real `tracegate` binary against real brokers (mosquitto, a NATS
//! cluster), simulated devices over ptys and loopback TCP, and reference implementations.
//! One test binary, a module per area, so the crate is linked once for all of them; only
//! `tests/store_crash.rs`, whose test re-executes its own binary as a crashing child, stays
//! apart.
//!
//! Run one area: `./scripts/test -p tracegate --test e2e -- delivery::`.

#[path = "../support/mod.rs"]
mod support;

mod bad_config;
mod broker_cluster;
mod chafon_interop;
mod china_identifiers;
mod clock_hold;
mod clock_steps;
mod context_command;
mod corrupt_db;
mod crash;
mod decode_cli;
mod delivery;
mod device_commands;
mod docs;
mod epcis_hash;
mod epcis_stream;
mod epcis_uplink;
mod event_types_roundtrip;
mod farm_kit;
mod faults_delivery;
mod faults_store;
mod field_export;
mod first_run;
mod gpio_feedback;
mod llrp_interop;
mod metrics;
mod outage;
mod outbox_full;
mod packing_line;
mod power_cut;
mod print_queue;
mod printer_device;
mod r2000_interop;
mod rejects;
mod reload;
mod rfid_gate;
mod scanner_kinds;
mod sm2_interop;
mod soak;
mod systemd_notify;
mod tls;
mod units;
mod web_page;
