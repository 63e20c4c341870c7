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
    /// AIM symbology identifier sent before each code (`]C1`, `]d2` …), as a scanner with
    /// "transmit AIM ID" on does; `None` sends codes as given.
    pub aim: Option<String>,
    /// Write each scan in pieces of this many bytes with this pause between them, as a slow
    /// UART or a USB endpoint splitting packets does; `None` writes each scan at once.
    pub split: Option<(usize, Duration)>,
    /// Line noise sent before each scan (a stray NUL, power-on garbage).
    pub noise: Vec<u8>,
}

impl Default for ScannerSim {
    /// CRLF-terminated, no prefix/suffix, unpaced: the factory default of most serial scanners.
    fn default() -> Self {
        ScannerSim {
            terminator: b"\r\n".to_vec(),
            prefix: Vec::new(),
            suffix: Vec::new(),
            interval: None,
            aim: None,
            split: None,
            noise: Vec::new(),
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
            self.noise.len()
                + self.prefix.len()
                + frame.0.len()
                + self.suffix.len()
                + self.terminator.len()
                + 3,
        );
        out.extend_from_slice(&self.noise);
        out.extend_from_slice(&self.prefix);
        if let Some(aim) = &self.aim {
            out.extend_from_slice(aim.as_bytes());
        }
        out.extend_from_slice(&frame.0);
        out.extend_from_slice(&self.suffix);
        out.extend_from_slice(&self.terminator);
        out
    }

    /// Sends one scan: in a single write, as a scanner's UART or USB endpoint usually does, or
    /// in pieces with [`split`](Self::split).
    pub async fn send<W: AsyncWrite + Unpin>(
        &self,
        line: &mut W,
        frame: &SimFrame,
    ) -> io::Result<()> {
        let bytes = self.wire_bytes(frame);
        match self.split {
            None => {
                line.write_all(&bytes).await?;
                line.flush().await
            }
            Some((size, gap)) => {
                for (i, piece) in bytes.chunks(size.max(1)).enumerate() {
                    if i > 0 {
                        tokio::time::sleep(gap).await;
                    }
                    line.write_all(piece).await?;
                    line.flush().await?;
                }
                Ok(())
            }
        }
    }

    /// Writes raw bytes on the line (several frames at once, noise, a frame without end).
    pub async fn send_raw<W: AsyncWrite + Unpin>(line: &mut W, bytes: &[u8]) -> io::Result<()> {
        line.write_all(bytes).await?;
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
        let sim = ScannerSim {
            aim: Some("]d2".into()),
            noise: vec![0x00],
            terminator: b"\r".to_vec(),
            ..ScannerSim::default()
        };
        assert_eq!(
            sim.wire_bytes(&SimFrame::new(&b"0109506000134352"[..])),
            b"\x00]d20109506000134352\r".to_vec()
        );
    }
}
