//! Simulated devices that speak the real wire protocols, for the tests and the demo.
//!
//! A simulator sits on the far side of a real transport — a pseudo-terminal for serial devices,
//! a loopback TCP socket for network devices — so the driver under test runs the exact code
//! path it runs against hardware. Simulators know bytes only; what codes they send is the
//! caller's choice.

pub mod cable;
pub mod chafon;
pub mod hid;
pub mod inputs;
pub mod keyboard;
pub mod lf;
pub mod llrp;
pub mod outputs;
pub mod printer;
pub mod pty;
pub mod r2000;
pub mod scanner;

pub use chafon::{SimChafon, SimChafonConfig};
pub use hid::SimHidScanner;
pub use inputs::SimInputs;
pub use keyboard::SimKeyboardScanner;
pub use llrp::{SimReader, SimReaderConfig};
pub use outputs::SimOutputs;
pub use printer::{SimPrinter, SimPrinterConfig};
pub use pty::VirtualSerialPort;
pub use r2000::{SimModule, SimModuleConfig, SimTag};
pub use scanner::{ScannerSim, SimFrame};
