//! A simulated LF stick reader on a pty: it sends each tag read in one of the formats real
//! readers send (see [`crate::rfid::lf::frame`] for the formats and their sources), with
//! Allflex's power-on string first, as the RS320 does when switched on.

use std::io;
use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::VirtualSerialPort;

/// A stick reader's output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LfFormat {
    /// `982000000255895` CR LF.
    Decimal,
    /// `982 000000255895` CR LF.
    Spaced,
    /// `LA 982 000000255895` CR LF (Allflex default).
    Allflex,
    /// `LA 00000 0 982 000000255895` CR LF (TIRIS S2000).
    Tiris,
    /// The WL-134 module's 30-byte STX … ETX frame.
    Wl134,
}

impl LfFormat {
    /// Every format, in the order above.
    pub const ALL: [LfFormat; 5] = [
        LfFormat::Decimal,
        LfFormat::Spaced,
        LfFormat::Allflex,
        LfFormat::Tiris,
        LfFormat::Wl134,
    ];
}

/// The bytes a reader in `format` sends for the tag `country` / `id`.
pub fn wire(format: LfFormat, country: u16, id: u64) -> Vec<u8> {
    match format {
        LfFormat::Decimal => format!("{country:03}{id:012}\r\n").into_bytes(),
        LfFormat::Spaced => format!("{country:03} {id:012}\r\n").into_bytes(),
        LfFormat::Allflex => format!("LA {country:03} {id:012}\r\n").into_bytes(),
        LfFormat::Tiris => format!("LA 00000 0 {country:03} {id:012}\r\n").into_bytes(),
        LfFormat::Wl134 => {
            let lsb_hex = |v: u64, n: usize| -> Vec<u8> {
                (0..n)
                    .map(|i| b"0123456789ABCDEF"[((v >> (4 * i)) & 0xF) as usize])
                    .collect()
            };
            let mut body = lsb_hex(id, 10);
            body.extend(lsb_hex(u64::from(country), 4));
            body.extend(b"01"); // no data block, animal tag
            body.extend(b"0000000000");
            let x = crate::rfid::lf::frame::wl134_checksum(&body);
            let mut frame = vec![0x02];
            frame.extend(body);
            frame.extend([x, !x, 0x03]);
            frame
        }
    }
}

/// A running simulated stick reader: what is [`send`](SimStick::send) goes out on the line.
#[derive(Debug)]
pub struct SimStick {
    /// The path a driver opens.
    pub path: PathBuf,
    tx: mpsc::Sender<Vec<u8>>,
    cancel: CancellationToken,
}

impl Drop for SimStick {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl SimStick {
    /// A stick on a new pty (reached through `link` when given); it sends its power-on
    /// string at once.
    pub fn start(link: Option<&Path>) -> io::Result<SimStick> {
        let mut port = match link {
            Some(link) => VirtualSerialPort::with_link(link)?,
            None => VirtualSerialPort::new()?,
        };
        let path = port.path().to_path_buf();
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(256);
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        tokio::spawn(async move {
            let _ = port.master().write_all(b"\x02\r\n").await;
            loop {
                let bytes = tokio::select! {
                    _ = stop.cancelled() => return,
                    bytes = rx.recv() => bytes,
                };
                let Some(bytes) = bytes else { return };
                if port.master().write_all(&bytes).await.is_err() {
                    return;
                }
            }
        });
        Ok(SimStick { path, tx, cancel })
    }

    /// Sends these bytes (a read in some format, or anything else) on the line.
    pub async fn send(&self, bytes: Vec<u8>) {
        let _ = self.tx.send(bytes).await;
    }
}
