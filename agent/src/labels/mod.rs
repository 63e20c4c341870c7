//! Labels: what a printer is sent, made from templates — no queue, no device, no outbox.
//!
//! - [`templates`]: label files in the config directory, rendered with named variables;
//! - [`symbols`]: GS1 AIs → the printer language's bar code, DataMatrix, QR and RFID commands;
//! - [`preview`]: a rendered label drawn as a PNG (labelize), without a printer.
//!
//! Below the config (which loads the templates) and the print queue (which renders them).

pub mod preview;
pub mod symbols;
pub mod templates;
