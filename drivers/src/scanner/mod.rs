//! Barcode scanners: serial-mode (frame codec over a serial line), USB HID POS (report
//! reassembly over hidraw) and keyboard-emulation (key events through evdev) — each a pure
//! codec with a thin I/O loop around it.

pub mod frame;
pub mod hid;
pub mod hidpos;
pub mod keymap;
pub mod serial;
pub mod wedge;

pub use frame::{FrameCodec, FrameEnd, FrameItem, FrameSettings};
pub use hid::{HidScanner, HidScannerSettings};
pub use serial::{SerialScanner, SerialScannerSettings};
pub use wedge::{KeyboardScanner, KeyboardScannerSettings};
