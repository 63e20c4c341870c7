//! tracegate: the edge traceability daemon.
//!
//! Reads from scanners and RFID readers (through `tracegate-drivers`), turns each read into an
//! EPCIS 2.0 event, keeps it durably in a SQLite outbox and publishes it over MQTT. See
//! `docs/ARCHITECTURE.md` for the data flow and the durability contract.
//!
//! The tree is the architecture: [`capture`] is the traceability domain (devices, what a read
//! means, events, the outbox, the uplink, commands), [`ops`] is how the daemon is operated
//! (status, metrics, logs, systemd, the control socket); [`config`], [`cli`] and [`runtime`]
//! tie them together.

pub mod capture;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod labels;
pub mod ops;
pub mod outbox;
pub mod print;
pub mod runtime;
pub mod telemetry;
pub mod uplink;
pub mod web;
