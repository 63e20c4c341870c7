//! The USB cable of a simulated USB device (HID POS scanner, keyboard scanner): items the
//! device sends (reports, key events) travel to the one driver that has it open, and the cable
//! can be pulled and plugged back in — the open device then fails its next read with the
//! error the real transport gives, and opening fails until it is back.
//!
//! ```text
//!            open()                     unplug()
//!  Plugged ─────────▶ Open (one line) ─────────▶ Unplugged ── open() fails (NotFound)
//!     ▲                                   │ the line's next read: `gone` error
//!     └──────────────── plug_in() ────────┘
//! ```

use std::io;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};

#[derive(Debug)]
struct Socket<T> {
    plugged: bool,
    /// The open device's line, while a driver has one open.
    line: Option<mpsc::UnboundedSender<io::Result<T>>>,
}

/// The device end of the cable. Clones share the cable.
#[derive(Debug)]
pub struct Cable<T> {
    socket: Arc<Mutex<Socket<T>>>,
    /// Whether a driver has the device open, for whoever waits for that.
    open: watch::Sender<bool>,
    /// The error the real transport reports when the device goes away mid-read.
    gone: fn() -> io::Error,
}

impl<T> Clone for Cable<T> {
    fn clone(&self) -> Self {
        Cable {
            socket: Arc::clone(&self.socket),
            open: self.open.clone(),
            gone: self.gone,
        }
    }
}

impl<T> Cable<T> {
    /// A plugged-in cable; `gone` is the error an open device's read fails with once unplugged.
    pub fn new(gone: fn() -> io::Error) -> Self {
        Cable {
            socket: Arc::new(Mutex::new(Socket {
                plugged: true,
                line: None,
            })),
            open: watch::channel(false).0,
            gone,
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Socket<T>) -> R) -> R {
        f(&mut self.socket.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Sends `items` to the open device; false when no driver has it open.
    pub fn send_all(&self, items: impl IntoIterator<Item = T>) -> bool {
        self.with(|s| match &s.line {
            Some(line) => items.into_iter().all(|i| line.send(Ok(i)).is_ok()),
            None => false,
        })
    }

    /// Whether a driver has the device open.
    pub fn is_open(&self) -> bool {
        self.with(|s| s.line.as_ref().is_some_and(|l| !l.is_closed()))
    }

    /// A receiver that says whether a driver has the device open, to wait on instead of
    /// polling [`is_open`](Self::is_open).
    pub fn watch_open(&self) -> watch::Receiver<bool> {
        self.open.subscribe()
    }

    /// Pulls the cable: the open device fails its next read, and opening fails until
    /// [`plug_in`](Self::plug_in).
    pub fn unplug(&self) {
        self.with(|s| {
            s.plugged = false;
            if let Some(line) = s.line.take() {
                let _ = line.send(Err((self.gone)()));
            }
        });
        self.open.send_replace(false);
    }

    /// Plugs the cable back in.
    pub fn plug_in(&self) {
        self.with(|s| s.plugged = true);
    }

    /// Opens the device, as the driver's transport does; fails while unplugged.
    pub fn open(&self) -> io::Result<Line<T>> {
        self.with(|s| {
            if !s.plugged {
                return Err(io::Error::new(io::ErrorKind::NotFound, "not connected"));
            }
            let (tx, rx) = mpsc::unbounded_channel();
            s.line = Some(tx);
            self.open.send_replace(true);
            Ok(Line {
                rx,
                gone: self.gone,
                open: self.open.clone(),
            })
        })
    }
}

/// The driver end of an open device.
#[derive(Debug)]
pub struct Line<T> {
    rx: mpsc::UnboundedReceiver<io::Result<T>>,
    gone: fn() -> io::Error,
    open: watch::Sender<bool>,
}

impl<T> Drop for Line<T> {
    /// The driver closed the device.
    fn drop(&mut self) {
        self.open.send_replace(false);
    }
}

impl<T> Line<T> {
    /// The next item the device sent; an error once it is unplugged.
    pub async fn next(&mut self) -> io::Result<T> {
        self.rx.recv().await.unwrap_or_else(|| Err((self.gone)()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gone() -> io::Error {
        io::Error::new(io::ErrorKind::BrokenPipe, "device disconnected")
    }

    #[tokio::test]
    async fn items_reach_the_open_line_until_the_cable_is_pulled() {
        let cable: Cable<u8> = Cable::new(gone);
        assert!(!cable.send_all([1]), "nothing is open yet");
        let opened = cable.watch_open();
        let mut line = cable.open().unwrap();
        assert!(cable.is_open());
        assert!(*opened.borrow());
        assert!(cable.send_all([1, 2]));
        assert_eq!(line.next().await.unwrap(), 1);
        assert_eq!(line.next().await.unwrap(), 2);

        cable.unplug();
        let err = line.next().await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        assert!(!cable.is_open());
        assert_eq!(cable.open().unwrap_err().kind(), io::ErrorKind::NotFound);

        cable.plug_in();
        let mut line = cable.open().unwrap();
        assert!(cable.send_all([3]));
        assert_eq!(line.next().await.unwrap(), 3);
    }
}
