//! Simulated label printers: a ZPL printer on loopback TCP (port 9100 style) and a TSPL printer
//! on a pty. Each keeps every byte it received, counts the labels it printed, and answers its
//! language's status request in the real format ([`crate::printer::zpl`],
//! [`crate::printer::tspl`]) from one simulated mechanism:
//!
//! ```text
//!  format / PRINT received ──▶ waiting batches ──no fault──▶ printed (labels counted)
//!                                   ▲   │ roll runs out mid-batch: paper out, the rest waits
//!                                   │   ▼
//!                     fault cleared (set_fault(.., false), load_roll): printing resumes
//! ```
//!
//! Faults are set from the test (`set_fault`: paper out, head open, ribbon out, pause); the roll
//! can hold a number of labels, after which the printer runs out mid-batch as a real one does.
//! The ZPL printer can be told to drop its connection after a number of bytes (a power cut
//! mid-job: the partial format is lost, as on the printer) and, like current Zebra firmware,
//! not to answer `~HS` while out of media or ribbon or with the head open.

use std::collections::{BTreeSet, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::VirtualSerialPort;
use crate::printer::zpl::HostStatus;
use crate::printer::{Fault, PrinterStatus, tspl};

/// How a simulated printer behaves.
#[derive(Debug, Clone, Default)]
pub struct SimPrinterConfig {
    /// Labels on the roll; none: endless. Running out mid-batch sets paper out.
    pub roll: Option<u64>,
    /// ZPL: do not answer `~HS` while out of paper or ribbon or with the head open (current
    /// Zebra firmware); by default the printer answers with the flags set.
    pub silent_when_faulted: bool,
}

#[derive(Debug, Default)]
struct Mechanism {
    faults: BTreeSet<Fault>,
    /// Labels of each batch not yet printed.
    waiting: VecDeque<u64>,
    printed: u64,
    formats: u64,
    roll_left: Option<u64>,
    received: Vec<u8>,
    drop_after: Option<usize>,
    status_requests: u64,
}

impl Mechanism {
    /// Prints what waits, as far as the faults and the roll allow.
    fn run(&mut self) {
        while self.faults.is_empty() {
            let Some(batch) = self.waiting.front_mut() else {
                return;
            };
            if *batch == 0 {
                self.waiting.pop_front();
                continue;
            }
            if self.roll_left == Some(0) {
                self.faults.insert(Fault::PaperOut);
                return;
            }
            *batch -= 1;
            self.printed += 1;
            if let Some(left) = &mut self.roll_left {
                *left -= 1;
            }
        }
    }

    fn status(&self) -> PrinterStatus {
        let labels: u64 = self.waiting.iter().sum();
        PrinterStatus {
            faults: self.faults.iter().copied().collect(),
            printing: false,
            labels_remaining: Some(labels as u32),
            formats_waiting: Some(self.waiting.len() as u32),
        }
    }

    fn host_status(&self) -> HostStatus {
        let has = |f| self.faults.contains(&f);
        HostStatus {
            interface: 30,
            paper_out: has(Fault::PaperOut),
            paused: has(Fault::Paused),
            label_length: 812,
            formats_in_buffer: self.waiting.len() as u32,
            head_up: has(Fault::HeadOpen),
            ribbon_out: has(Fault::RibbonOut),
            thermal_transfer: true,
            print_mode: 2,
            print_width_mode: 6,
            labels_remaining: self.waiting.front().copied().unwrap_or(0) as u32,
            password: 1234,
            ..HostStatus::default()
        }
    }
}

/// A running simulated printer: its address (ZPL) or pty path (TSPL), and its controls.
#[derive(Debug, Clone)]
pub struct SimPrinter {
    state: Arc<Mutex<Mechanism>>,
    config: SimPrinterConfig,
    cancel: CancellationToken,
    /// Where a driver connects: `127.0.0.1:port` (ZPL).
    pub addr: Option<SocketAddr>,
    /// The pty a driver opens (TSPL).
    pub path: Option<PathBuf>,
}

impl SimPrinter {
    fn new(config: SimPrinterConfig) -> SimPrinter {
        let state = Mechanism {
            roll_left: config.roll,
            ..Mechanism::default()
        };
        SimPrinter {
            state: Arc::new(Mutex::new(state)),
            config,
            cancel: CancellationToken::new(),
            addr: None,
            path: None,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Mechanism> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a ZPL printer on a free loopback port.
    pub async fn start_zpl(config: SimPrinterConfig) -> io::Result<SimPrinter> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let mut printer = SimPrinter::new(config);
        printer.addr = Some(listener.local_addr()?);
        tokio::spawn(serve_zpl(listener, printer.clone()));
        Ok(printer)
    }

    /// Starts a TSPL printer on a new pty (reached through `link` when given).
    pub fn start_tspl(
        config: SimPrinterConfig,
        link: Option<&std::path::Path>,
    ) -> io::Result<SimPrinter> {
        let port = match link {
            Some(link) => VirtualSerialPort::with_link(link)?,
            None => VirtualSerialPort::new()?,
        };
        let mut printer = SimPrinter::new(config);
        printer.path = Some(port.path().to_path_buf());
        tokio::spawn(serve_tspl(port, printer.clone()));
        Ok(printer)
    }

    /// Sets or clears a fault; clearing the last one resumes printing. Clearing paper out
    /// loads a fresh roll of the configured size.
    pub fn set_fault(&self, fault: Fault, on: bool) {
        let mut m = self.lock();
        if on {
            m.faults.insert(fault);
        } else {
            m.faults.remove(&fault);
            if fault == Fault::PaperOut {
                m.roll_left = self.config.roll;
            }
        }
        m.run();
    }

    /// Loads a roll of `labels` (none: endless) and clears paper out, as an operator does;
    /// printing resumes.
    pub fn load_roll(&self, labels: Option<u64>) {
        let mut m = self.lock();
        m.roll_left = labels;
        m.faults.remove(&Fault::PaperOut);
        m.run();
    }

    /// Labels printed so far.
    pub fn printed(&self) -> u64 {
        self.lock().printed
    }

    /// Formats (ZPL) or PRINT commands (TSPL) received whole.
    pub fn jobs(&self) -> u64 {
        self.lock().formats
    }

    /// Status requests answered or, when silent, received.
    pub fn status_requests(&self) -> u64 {
        self.lock().status_requests
    }

    /// Every byte received, across connections.
    pub fn received(&self) -> Vec<u8> {
        self.lock().received.clone()
    }

    /// The status the printer would report now.
    pub fn status(&self) -> PrinterStatus {
        self.lock().status()
    }

    /// Drops the current (or next) connection after `bytes` more bytes are received, the
    /// rest of that connection's data lost (ZPL).
    pub fn drop_after(&self, bytes: usize) {
        self.lock().drop_after = Some(bytes);
    }

    /// Stops the printer.
    pub fn stop(&self) {
        self.cancel.cancel();
    }
}

/// The ZPL quantity of a format: `^PQq,…` (1 when absent or unreadable).
fn quantity(format: &[u8]) -> u64 {
    let Some(at) = format.windows(3).position(|w| w == b"^PQ") else {
        return 1;
    };
    let digits: Vec<u8> = format[at + 3..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .copied()
        .collect();
    std::str::from_utf8(&digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .filter(|&q: &u64| q > 0)
        .unwrap_or(1)
}

/// Takes what `pending` holds of ZPL: tilde commands at once, each complete `^XA … ^XZ`
/// format queued. Returns the `~HS` requests seen.
fn take_zpl(pending: &mut Vec<u8>, m: &mut Mechanism) -> usize {
    let mut status_requests = 0;
    loop {
        let find = |needle: &[u8]| pending.windows(3).position(|w| w == needle);
        let next = [find(b"~HS"), find(b"~JA"), find(b"^XZ")]
            .into_iter()
            .enumerate()
            .filter_map(|(n, at)| at.map(|at| (at, n)))
            .min();
        let Some((at, which)) = next else {
            // Keep the format being received, or a command split across reads.
            let keep_from = pending
                .windows(3)
                .rposition(|w| w == b"^XA")
                .unwrap_or(pending.len().saturating_sub(2));
            pending.drain(..keep_from);
            return status_requests;
        };
        match which {
            0 => {
                status_requests += 1;
                pending.drain(at..at + 3);
            }
            1 => {
                m.waiting.clear();
                pending.drain(at..at + 3);
            }
            _ => {
                let format = &pending[..at];
                let start = format.windows(3).rposition(|w| w == b"^XA");
                if let Some(start) = start {
                    let q = quantity(&format[start..]);
                    m.waiting.push_back(q);
                    m.formats += 1;
                    m.run();
                }
                pending.drain(..at + 3);
            }
        }
    }
}

async fn serve_zpl(listener: TcpListener, printer: SimPrinter) {
    loop {
        let accepted = tokio::select! {
            _ = printer.cancel.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((mut stream, _)) = accepted else {
            continue;
        };
        let mut pending = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = tokio::select! {
                _ = printer.cancel.cancelled() => return,
                n = stream.read(&mut buf) => match n { Ok(0) | Err(_) => break, Ok(n) => n },
            };
            let (answers, dropped) = {
                let mut m = printer.lock();
                let mut data = &buf[..n];
                let mut dropped = false;
                if let Some(left) = m.drop_after {
                    if data.len() >= left {
                        data = &data[..left];
                        m.drop_after = None;
                        dropped = true;
                    } else {
                        m.drop_after = Some(left - data.len());
                    }
                }
                m.received.extend_from_slice(data);
                pending.extend_from_slice(data);
                let requests = take_zpl(&mut pending, &mut m);
                m.status_requests += requests as u64;
                let silent = printer.config.silent_when_faulted
                    && [Fault::PaperOut, Fault::RibbonOut, Fault::HeadOpen]
                        .iter()
                        .any(|f| m.faults.contains(f));
                let answer = if silent {
                    Vec::new()
                } else {
                    m.host_status().to_bytes()
                };
                (answer.repeat(requests), dropped)
            };
            if dropped {
                break;
            }
            if !answers.is_empty() && stream.write_all(&answers).await.is_err() {
                break;
            }
        }
    }
}

/// Takes what `pending` holds of TSPL: `<ESC>!?` and `<ESC>!S` at once (answered), each
/// complete line read; a `PRINT m[,n]` queues m × n labels.
fn take_tspl(pending: &mut Vec<u8>, m: &mut Mechanism) -> Vec<u8> {
    let mut answers = Vec::new();
    loop {
        if let Some(at) = pending.windows(3).position(|w| w == tspl::STATUS_BYTE) {
            pending.drain(at..at + 3);
            m.status_requests += 1;
            answers.push(tspl::to_status_byte(&m.status()));
            continue;
        }
        if let Some(at) = pending.windows(3).position(|w| w == tspl::STATUS_EXTENDED) {
            pending.drain(at..at + 3);
            m.status_requests += 1;
            let s = m.status();
            let has = |f| s.faults.contains(&f);
            let message = if has(Fault::Paused) {
                b'`'
            } else if s.faults.is_empty() {
                b'@'
            } else {
                b'E'
            };
            let error2 = 0x40
                | u8::from(has(Fault::PaperOut))
                | u8::from(has(Fault::PaperJam)) << 1
                | u8::from(has(Fault::RibbonOut)) << 2;
            answers.extend_from_slice(&[0x02, message, b'@', b'@', error2, 0x03, b'\r', b'\n']);
            continue;
        }
        let Some(end) = pending.iter().position(|&b| b == b'\n') else {
            return answers;
        };
        let line: Vec<u8> = pending.drain(..=end).collect();
        let text = String::from_utf8_lossy(&line);
        let text = text.trim();
        if let Some(args) = text.strip_prefix("PRINT") {
            let mut numbers = args.split(',').map(|a| a.trim().parse::<u64>().ok());
            let sets = numbers.next().flatten().unwrap_or(1);
            let copies = numbers.next().flatten().unwrap_or(1);
            m.waiting.push_back(sets.saturating_mul(copies));
            m.formats += 1;
            m.run();
        }
    }
}

async fn serve_tspl(mut port: VirtualSerialPort, printer: SimPrinter) {
    let mut pending = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let read = tokio::select! {
            _ = printer.cancel.cancelled() => return,
            n = port.master().read(&mut buf) => n,
        };
        let n = match read {
            Ok(0) | Err(_) => {
                // No host has the line open (a pty master reads EIO): wait for one.
                tokio::select! {
                    _ = printer.cancel.cancelled() => return,
                    _ = tokio::time::sleep(std::time::Duration::from_millis(10)) => continue,
                }
            }
            Ok(n) => n,
        };
        let answers = {
            let mut m = printer.lock();
            m.received.extend_from_slice(&buf[..n]);
            pending.extend_from_slice(&buf[..n]);
            take_tspl(&mut pending, &mut m)
        };
        if !answers.is_empty() && port.master().write_all(&answers).await.is_err() {
            continue;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zpl_formats_are_counted_with_their_quantity_and_split_commands_wait() {
        let mut m = Mechanism::default();
        let mut pending = b"^XA^FO50,50^FDone^FS^XZ^XA^PQ3,0,1,Y".to_vec();
        assert_eq!(take_zpl(&mut pending, &mut m), 0);
        assert_eq!(m.printed, 1);
        pending.extend_from_slice(b"^FDthree^FS^X");
        assert_eq!(take_zpl(&mut pending, &mut m), 0);
        pending.extend_from_slice(b"Z~H");
        assert_eq!(take_zpl(&mut pending, &mut m), 0);
        assert_eq!(m.printed, 4);
        pending.extend_from_slice(b"S");
        assert_eq!(take_zpl(&mut pending, &mut m), 1);
    }

    #[test]
    fn a_roll_running_out_mid_batch_holds_the_rest_until_a_new_roll() {
        let mut m = Mechanism {
            roll_left: Some(2),
            ..Mechanism::default()
        };
        let mut pending = b"^XA^PQ5^XZ".to_vec();
        take_zpl(&mut pending, &mut m);
        assert_eq!(m.printed, 2);
        let s = m.status();
        assert_eq!(s.faults, [Fault::PaperOut]);
        assert_eq!(m.host_status().labels_remaining, 3);
        m.faults.clear();
        m.roll_left = Some(10);
        m.run();
        assert_eq!(m.printed, 5);
        assert!(m.waiting.is_empty());
    }

    #[test]
    fn tspl_print_counts_sets_times_copies_and_answers_status_at_once() {
        let mut m = Mechanism::default();
        let mut pending =
            b"SIZE 60 mm,40 mm\r\nCLS\r\nTEXT 10,10,\"3\",0,1,1,\"A\"\r\nPRINT 2,3\r\n\x1b!?"
                .to_vec();
        let answers = take_tspl(&mut pending, &mut m);
        assert_eq!(answers, [0x00]);
        assert_eq!(m.printed, 6);
        m.faults.insert(Fault::HeadOpen);
        pending.extend_from_slice(b"\x1b!?\x1b!S");
        assert_eq!(
            take_tspl(&mut pending, &mut m),
            [0x01, 0x02, b'E', b'@', b'@', 0x40, 0x03, b'\r', b'\n']
        );
    }
}
