//! Barcode scanners: the frame codec shared by serial-mode scanners, and their I/O loop.

pub mod frame;
pub mod serial;

pub use frame::{FrameCodec, FrameEnd, FrameItem, FrameSettings};
pub use serial::{SerialScanner, SerialScannerSettings};
