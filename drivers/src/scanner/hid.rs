//! USB HID POS scanners: reports from hidraw (through hidapi, pure Rust on Linux: no libudev or
//! libusb needed), joined into scans by [`HidPosAssembler`]. The life cycle — device absent or
//! unplugged is `Down`, retried with backoff — is [`crate::lifecycle`]'s.
//!
//! The transport is a small trait ([`ReportOpener`] / [`ReportSource`]), so the real hidraw
//! device and the simulator ([`crate::sim::SimHidScanner`]) run the same driver code.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Deserializer};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::frame::FrameItem;
use super::hidpos::{Assembled, HidPosAssembler, REPORT_LEN};
use super::serial::frame_event;
use crate::command::Commands;
use crate::lifecycle::{Device, Driver, SessionEnd};
use crate::read::{DeviceEvent, ReadMeta};

/// HID usage page of bar code scanners (USB-IF HID POS Usage Tables §3).
pub const USAGE_PAGE_BAR_CODE_SCANNER: u16 = 0x8C;

/// Which HID scanner, and how long a scan may be. Field names are config keys.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HidScannerSettings {
    /// USB vendor id, as `lsusb` shows it (`"0c2e"`), or a number.
    #[serde(deserialize_with = "usb_id")]
    pub vendor_id: u16,
    /// USB product id (`"0b61"`), or a number.
    #[serde(deserialize_with = "usb_id")]
    pub product_id: u16,
    /// The scanner's serial number, to pick one of several identical scanners.
    #[serde(default)]
    pub serial_number: Option<String>,
    /// Longest scan accepted, in bytes.
    #[serde(default = "default_max_len")]
    pub max_frame_len: usize,
}

fn default_max_len() -> usize {
    4096
}

/// A USB id written as hex text (`"0c2e"`, `"0x0c2e"`) or as a number.
fn usb_id<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Number(u16),
        Text(String),
    }
    match Id::deserialize(d)? {
        Id::Number(n) => Ok(n),
        Id::Text(s) => {
            let hex = s.trim_start_matches("0x").trim_start_matches("0X");
            if hex.is_empty() || hex.len() > 4 {
                return Err(serde::de::Error::custom(format!(
                    "{s:?} is not a USB id: write it as lsusb shows it, e.g. \"0c2e\""
                )));
            }
            u16::from_str_radix(hex, 16).map_err(|_| {
                serde::de::Error::custom(format!(
                    "{s:?} is not a USB id: four hex digits, e.g. \"0c2e\""
                ))
            })
        }
    }
}

impl HidScannerSettings {
    /// `vvvv:pppp`, as lsusb writes it.
    pub fn id(&self) -> String {
        format!("{:04x}:{:04x}", self.vendor_id, self.product_id)
    }
}

/// Reads input reports from an open HID device.
pub trait ReportSource: Send {
    /// The next input report (report ID first); an error when the device is gone.
    fn next_report(&mut self) -> impl Future<Output = io::Result<Vec<u8>>> + Send;
}

/// Opens a HID device.
pub trait ReportOpener: Send {
    /// An open device.
    type Source: ReportSource;
    /// Opens it; the error says why (not connected, no permission …).
    fn open(&mut self) -> io::Result<Self::Source>;
    /// What to call it in logs.
    fn describe(&self) -> String;
}

/// A HID POS scanner driver; run it with [`Driver::run`](crate::lifecycle::Driver::run).
pub type HidScanner<O> = Driver<HidDevice<O>>;

impl HidScanner<HidrawOpener> {
    /// A driver for the real scanner `settings` select, through hidraw.
    pub fn new(id: Arc<str>, settings: &HidScannerSettings) -> Self {
        HidScanner::with_opener(id, HidrawOpener::new(settings), settings.max_frame_len)
    }
}

impl<O: ReportOpener> HidScanner<O> {
    /// A driver reading through `opener` (the simulator in tests and the demo). The scanner
    /// takes no commands: each one is answered unsupported.
    pub fn with_opener(id: Arc<str>, opener: O, max_len: usize) -> Self {
        Driver::with_device(
            id.clone(),
            HidDevice {
                id,
                opener,
                max_len,
            },
        )
    }
}

/// A HID POS scanner as the life cycle runs it (see [`HidScanner`]).
#[derive(Debug)]
pub struct HidDevice<O> {
    id: Arc<str>,
    opener: O,
    max_len: usize,
}

impl<O: ReportOpener> Device for HidDevice<O> {
    type Conn = O::Source;

    fn open(&mut self) -> impl Future<Output = Result<O::Source, String>> + Send {
        let opened = self
            .opener
            .open()
            .map_err(|e| format!("cannot open {}: {e}", self.opener.describe()));
        async move { opened }
    }

    fn describe(&self) -> String {
        self.opener.describe()
    }

    async fn session(
        &mut self,
        mut source: O::Source,
        events: &mpsc::Sender<DeviceEvent>,
        _commands: &mut Commands,
        cancel: &CancellationToken,
    ) -> SessionEnd {
        let mut assembler = HidPosAssembler::new(self.max_len);
        loop {
            let report = tokio::select! {
                biased;
                _ = cancel.cancelled() => return SessionEnd::Cancelled,
                r = source.next_report() => r,
            };
            let report = match report {
                Ok(r) => r,
                Err(e) => {
                    let partial = assembler.reset();
                    if partial > 0 {
                        let _ = events
                            .send(frame_event(
                                &self.id,
                                FrameItem::Incomplete { len: partial },
                                self.max_len,
                                ReadMeta::default(),
                            ))
                            .await;
                    }
                    return SessionEnd::Lost(format!("HID read failed: {e} (unplugged?)"));
                }
            };
            let event = match assembler.push(&report) {
                Assembled::Pending => continue,
                Assembled::Scan(scan) => frame_event(
                    &self.id,
                    FrameItem::Data(scan.data),
                    self.max_len,
                    ReadMeta {
                        symbology: scan.symbology,
                        ..ReadMeta::default()
                    },
                ),
                Assembled::Overlong { len } => frame_event(
                    &self.id,
                    FrameItem::Overlong { len },
                    self.max_len,
                    ReadMeta::default(),
                ),
                Assembled::Bad(e) => DeviceEvent::FrameError {
                    device: self.id.clone(),
                    message: format!("bad HID POS report: {e}; is the scanner in HID POS mode?"),
                },
            };
            if events.send(event).await.is_err() {
                return SessionEnd::ChannelClosed;
            }
        }
    }
}

/// Opens a scanner through hidraw by vendor / product id (and serial number).
#[derive(Debug, Clone)]
pub struct HidrawOpener {
    vendor_id: u16,
    product_id: u16,
    serial: Option<String>,
}

impl HidrawOpener {
    /// An opener for the scanner `settings` select.
    pub fn new(settings: &HidScannerSettings) -> Self {
        HidrawOpener {
            vendor_id: settings.vendor_id,
            product_id: settings.product_id,
            serial: settings.serial_number.clone(),
        }
    }
}

impl ReportOpener for HidrawOpener {
    type Source = HidrawSource;

    fn open(&mut self) -> io::Result<HidrawSource> {
        let api = hidapi::HidApi::new().map_err(io::Error::other)?;
        let candidates: Vec<&hidapi::DeviceInfo> = api
            .device_list()
            .filter(|d| d.vendor_id() == self.vendor_id && d.product_id() == self.product_id)
            .filter(|d| {
                self.serial
                    .as_deref()
                    .is_none_or(|s| d.serial_number() == Some(s))
            })
            .collect();
        // A scanner in HID POS mode may also expose a keyboard interface: take the bar code
        // scanner one when the interfaces say which is which.
        let info = candidates
            .iter()
            .find(|d| d.usage_page() == USAGE_PAGE_BAR_CODE_SCANNER)
            .or(candidates.first())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    "not connected (check `lsusb` for the id, and that the scanner is in HID POS mode)",
                )
            })?;
        let device = info.open_device(&api).map_err(|e| {
            io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{e} (is the udev rule for hidraw installed?)"),
            )
        })?;
        let (tx, rx) = mpsc::channel(64);
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        // hidapi reads block: one small thread per open scanner, polling so it notices a drop.
        std::thread::Builder::new()
            .name("hid-scanner".into())
            .spawn(move || {
                let mut buf = [0u8; REPORT_LEN + 1];
                while !stopping.load(Ordering::Relaxed) {
                    match device.read_timeout(&mut buf, 200) {
                        Ok(0) => continue,
                        Ok(n) => {
                            if tx.blocking_send(Ok(buf[..n].to_vec())).is_err() {
                                break;
                            }
                        }
                        Err(e) => {
                            let _ = tx.blocking_send(Err(io::Error::other(e)));
                            break;
                        }
                    }
                }
            })?;
        Ok(HidrawSource { rx, stop })
    }

    fn describe(&self) -> String {
        format!("HID {:04x}:{:04x}", self.vendor_id, self.product_id)
    }
}

/// Reports from a hidraw device, read by its thread.
#[derive(Debug)]
pub struct HidrawSource {
    rx: mpsc::Receiver<io::Result<Vec<u8>>>,
    stop: Arc<AtomicBool>,
}

impl ReportSource for HidrawSource {
    async fn next_report(&mut self) -> io::Result<Vec<u8>> {
        self.rx.recv().await.unwrap_or_else(|| {
            Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "HID reader stopped",
            ))
        })
    }
}

impl Drop for HidrawSource {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usb_ids_as_lsusb_writes_them() {
        let s: HidScannerSettings =
            toml::from_str("vendor_id = \"0c2e\"\nproduct_id = \"0x0B61\"").unwrap();
        assert_eq!((s.vendor_id, s.product_id), (0x0c2e, 0x0b61));
        assert_eq!(s.id(), "0c2e:0b61");
        let s: HidScannerSettings = toml::from_str("vendor_id = 3118\nproduct_id = 2913").unwrap();
        assert_eq!(s.id(), "0c2e:0b61");
        let e = toml::from_str::<HidScannerSettings>("vendor_id = \"zebra\"\nproduct_id = 1")
            .unwrap_err();
        assert!(e.to_string().contains("not a USB id"), "{e}");
    }
}
