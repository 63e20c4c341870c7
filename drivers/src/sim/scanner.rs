//! A simulated serial-mode barcode scanner: writes frames to the device end of a serial line
//! exactly as a scanner in serial (CDC-ACM / RS-232) mode does — configured prefix, the code
//! (with its in-band AIM symbology identifier and GS separators if the caller includes them),
//! configured suffix, terminator.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// One code a simulated scanner will send, as bytes. Usually built with
/// [`SimFrame::new`] from what a real symbol would decode to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimFrame(pub Vec<u8>);

impl SimFrame {
    /// A frame carrying `code` (AIM prefix and GS bytes included as given).
    pub fn new(code: impl Into<Vec<u8>>) -> Self {
        SimFrame(code.into())
    }
}

/// How the simulated scanner frames its output and how fast it scans.
#[derive(Debug, Clone)]
pub struct ScannerSim {
    /// Sent after each code: `b"\r\n"`, `b"\r"`, `b"\n"` or nothing.
    pub terminator: Vec<u8>,
    /// Configured prefix sent before each code (e.g. STX).
    pub prefix: Vec<u8>,
    /// Configured suffix sent after each code, before the terminator (e.g. ETX).
    pub suffix: Vec<u8>,
    /// Pause between scans; `None` writes as fast as the line accepts.
    pub interval: Option<Duration>,
}

impl Default for ScannerSim {
    /// CRLF-terminated, no prefix/suffix, unpaced: the factory default of most serial scanners.
    fn default() -> Self {
        ScannerSim {
            terminator: b"\r\n".to_vec(),
            prefix: Vec::new(),
            suffix: Vec::new(),
            interval: None,
        }
    }
}

impl ScannerSim {
    /// Scans at `per_second` frames per second (0 or less: unpaced).
    pub fn with_rate(mut self, per_second: f64) -> Self {
        self.interval =
            (per_second > 0.0).then(|| Duration::from_secs_f64(1.0 / per_second.min(1e6)));
        self
    }

    /// The bytes on the wire for one scan.
    pub fn wire_bytes(&self, frame: &SimFrame) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            self.prefix.len() + frame.0.len() + self.suffix.len() + self.terminator.len(),
        );
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(&frame.0);
        out.extend_from_slice(&self.suffix);
        out.extend_from_slice(&self.terminator);
        out
    }

    /// Sends one scan in a single write, as a scanner's UART or USB endpoint does.
    pub async fn send<W: AsyncWrite + Unpin>(
        &self,
        line: &mut W,
        frame: &SimFrame,
    ) -> io::Result<()> {
        line.write_all(&self.wire_bytes(frame)).await?;
        line.flush().await
    }

    /// Sends every frame from `frames`, paced by `interval`, until they run out or `cancel`
    /// fires. Returns how many frames were written completely.
    pub async fn run<W, I>(
        &self,
        line: &mut W,
        frames: I,
        cancel: &CancellationToken,
    ) -> io::Result<u64>
    where
        W: AsyncWrite + Unpin,
        I: IntoIterator<Item = SimFrame>,
    {
        let mut sent = 0u64;
        let mut ticker = self.interval.map(|every| {
            let mut t = tokio::time::interval(every);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            t
        });
        for frame in frames {
            if let Some(t) = ticker.as_mut() {
                tokio::select! {
                    _ = t.tick() => {}
                    _ = cancel.cancelled() => break,
                }
            }
            tokio::select! {
                r = self.send(line, &frame) => r?,
                _ = cancel.cancelled() => break,
            }
            sent += 1;
        }
        Ok(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_bytes_are_prefix_code_suffix_terminator() {
        let sim = ScannerSim {
            prefix: vec![0x02],
            suffix: vec![0x03],
            ..ScannerSim::default()
        };
        assert_eq!(
            sim.wire_bytes(&SimFrame::new(&b"]C1\x1d01"[..])),
            b"\x02]C1\x1d01\x03\r\n".to_vec()
        );
    }
}
