//! RFID readers: fixed UHF readers over LLRP ([`llrp`]). A reader driver yields each tag
//! report as a raw read — the EPC in hex, with antenna, RSSI, the reader's first-seen time
//! and seen count in [`crate::ReadMeta`]; what a tag's movements mean (arrived, departed, in,
//! out) is decided by the agent's pipeline, never here.

pub mod llrp;
