//! Label printing: templates and the durable print queue.
//!
//! - [`templates`]: label files in the config directory, rendered with named variables;
//! - [`preview`]: a rendered label drawn as a PNG (labelize), without a printer;
//! - [`symbols`]: GS1 AIs → the printer language's bar code, DataMatrix, QR and RFID commands;
//! - [`queue`]: one worker per printer that takes the oldest submitted job from the outbox
//!   database, marks it sent (committed) before a byte is written, has the printer driver
//!   print it and settles it from the driver's answer.
//!
//! The queue's states and moves are drawn in `capture::store::print_jobs`.

pub mod preview;
pub mod queue;
pub mod symbols;
pub mod templates;
