//! A virtual serial port: a pseudo-terminal pair whose slave side a driver opens by path, like
//! `/dev/ttyACM0`. Optionally reached through a stable symlink, like `/dev/serial/by-id/…`, so
//! that unplugging (closing the pair) and replugging (a new pair, the link re-pointed) can be
//! simulated with the path the driver was configured with staying the same.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::AsyncReadExt;

use tokio_serial::{SerialPort, SerialStream};

/// The device end of a simulated serial line. Write to [`master`](Self::master) what the device
/// would send; the driver reads it from [`path`](Self::path).
#[derive(Debug)]
pub struct VirtualSerialPort {
    master: SerialStream,
    slave_path: PathBuf,
    link: Option<PathBuf>,
}

impl VirtualSerialPort {
    /// A new pty pair. The slave is not held open here, so the driver is its only reader.
    pub fn new() -> io::Result<Self> {
        let (master, slave) = SerialStream::pair().map_err(io::Error::from)?;
        let slave_path = slave
            .name()
            .map(PathBuf::from)
            .ok_or_else(|| io::Error::other("pty slave has no name"))?;
        // Dropping the slave closes only this handle: the pty lives as long as the master.
        drop(slave);
        Ok(VirtualSerialPort {
            master,
            slave_path,
            link: None,
        })
    }

    /// A new pty pair reachable through the symlink `link` (replaced if it exists).
    pub fn with_link(link: impl AsRef<Path>) -> io::Result<Self> {
        let mut port = VirtualSerialPort::new()?;
        let link = link.as_ref().to_path_buf();
        replace_symlink(&port.slave_path, &link)?;
        port.link = Some(link);
        Ok(port)
    }

    /// The path a driver should open: the symlink if there is one, else the pty slave.
    pub fn path(&self) -> &Path {
        self.link.as_deref().unwrap_or(&self.slave_path)
    }

    /// The pty slave path (`/dev/pts/N`).
    pub fn slave_path(&self) -> &Path {
        &self.slave_path
    }

    /// The device side of the line.
    pub fn master(&mut self) -> &mut SerialStream {
        &mut self.master
    }

    /// Reads exactly `n` bytes the host wrote to the device (a scanner's host commands), or
    /// fails with `TimedOut` if they have not all arrived within `limit`.
    pub async fn receive(&mut self, n: usize, limit: Duration) -> io::Result<Vec<u8>> {
        let mut buf = vec![0; n];
        tokio::time::timeout(limit, self.master.read_exact(&mut buf))
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{n} bytes not written to the device within {limit:?}"),
                )
            })??;
        Ok(buf)
    }

    /// Simulates unplugging: the pty is closed (the driver's reads fail) and the symlink, if
    /// any, disappears as udev removes `/dev/serial/by-id` links.
    pub fn unplug(self) -> Option<PathBuf> {
        if let Some(link) = &self.link {
            let _ = std::fs::remove_file(link);
        }
        self.link.clone()
    }
}

impl Drop for VirtualSerialPort {
    fn drop(&mut self) {
        // Leave no dangling link behind for the next test run.
        if let Some(link) = &self.link
            && std::fs::read_link(link).ok().as_deref() == Some(self.slave_path.as_path())
        {
            let _ = std::fs::remove_file(link);
        }
    }
}

fn replace_symlink(target: &Path, link: &Path) -> io::Result<()> {
    let tmp = link.with_extension("tracegate-tmp-link");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    std::fs::rename(&tmp, link)
}
