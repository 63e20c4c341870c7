//! Device I/O for tracegate: the bytes and frames of scanners, RFID readers, printers and GPIO.
//!
//! A driver knows its device's wire protocol and connection life cycle, never what a payload
//! means: it yields [`DeviceEvent`]s (raw reads and link-state changes) into a channel, and the
//! agent's pipeline decides what a read is. Every protocol is a pure codec type tested on byte
//! slices; the I/O around it is a thin loop. The [`sim`] module holds simulated devices that speak
//! the same wire protocols, used by the tests and the demo.

pub mod backoff;
pub mod command;
pub mod gpio;
pub mod lifecycle;
pub mod output;
pub mod printer;
pub mod read;
pub mod rfid;
pub mod scanner;
pub mod serial;
#[cfg(feature = "sim")]
pub mod sim;

pub use command::{
    CommandDone, CommandError, CommandRequest, CommandResult, Commands, DeviceCommand,
};
pub use read::{DeviceEvent, DeviceState, RawRead, ReadMeta};
