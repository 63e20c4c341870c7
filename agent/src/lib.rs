//! tracegate: the edge traceability daemon.
//!
//! Reads from scanners and RFID readers (through `tracegate-drivers`), turns each read into an
//! EPCIS 2.0 event, keeps it durably in a SQLite outbox and publishes it over MQTT. See
//! `docs/ARCHITECTURE.md` for the data flow and the durability contract.

pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod contexts;
pub mod control;
pub mod devices;
pub mod event;
pub mod health;
pub mod identify;
pub mod latency;
pub mod logging;
pub mod metrics;
pub mod pipeline;
pub mod runtime;
pub mod signals;
pub mod status;
pub mod store;
pub mod sync;
pub mod systemd;
