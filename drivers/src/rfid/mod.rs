//! RFID readers: fixed UHF readers over LLRP ([`llrp`]), serial UHF modules and readers
//! driven by the gateway ([`r2000`], [`chafon`]), and LF animal-tag stick readers ([`lf`]). A reader driver yields each
//! tag report as a raw read — the EPC in hex (UHF) or the 15-digit ISO 11784 code (LF), with
//! antenna, RSSI, the reader's first-seen time and seen count in [`crate::ReadMeta`] where
//! the reader reports them; what a tag's movements mean (arrived, departed, in, out) is
//! decided by the agent's pipeline, never here.

pub mod chafon;
pub mod lf;
pub mod llrp;
pub mod r2000;
mod serial_link;
