//! EPCglobal LLRP 1.0.1 (Low Level Reader Protocol) for fixed UHF readers — Impinj R700 /
//! Speedway, Zebra FX7500 / FX9600 / ATR7000 and others — over TCP port 5084.
//!
//! - [`frame`]: the message header and framing codec (`Decoder` / `Encoder`, used with
//!   `Framed`), lengths bounded before anything is buffered;
//! - [`param`]: TLV / TV parameters read with every length checked, unknown and vendor
//!   parameters skipped by their length;
//! - [`message`]: the messages the client and the simulated reader exchange, as types;
//! - [`client`]: the reader session — connection handshake, capabilities, clean state,
//!   configuration, the ROSpec, reports, keepalives, read windows by command.
//!
//! Sections cited are those of the LLRP 1.0.1 standard (EPCglobal, 2007): §16 is its binary
//! encoding, §17 its TCP transport.

pub mod client;
pub mod frame;
pub mod message;
pub mod param;

pub use client::{LlrpReader, LlrpSettings, ReadWindow, SearchMode};
pub use frame::{Frame, LlrpCodec};
pub use message::{Capabilities, Message, ReaderEvent, RoSpec, Status, TagReport};

/// What can go wrong reading LLRP from the wire.
#[derive(Debug, thiserror::Error)]
pub enum LlrpError {
    /// The byte stream is out of step (a length that cannot be): the connection must go.
    #[error("LLRP framing: {0}")]
    Framing(String),
    /// A message or parameter is not as LLRP 1.0.1 lays it out.
    #[error("malformed LLRP: {0}")]
    Malformed(String),
    /// The socket failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}
