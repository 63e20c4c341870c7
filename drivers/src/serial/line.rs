//! Opening a tty as a raw serial line with POSIX termios.
//!
//! Why not `serialport`'s own `open`: on Linux it configures every port through the `termios2`
//! ioctls (`TCGETS2` / `TCSETS2`), needed only for non-standard speeds. qemu-user as shipped
//! with Debian 12 (7.2) does not emulate those ioctls, so a port opened that way fails with
//! ENOSYS in the cross-compiled test run, and the binary that ships would not be the binary
//! that was tested. Standard speeds (every scanner and reader we know of uses one) are set
//! with plain `tcsetattr`, which every tty layer supports; only a non-standard speed still
//! goes through `termios2` (`serialport`'s `set_baud_rate`, `BOTHER`).
//!
//! The port is locked two ways, as `serialport` does: an exclusive `flock` (other
//! cooperating programs — ModemManager, another tracegate — see it as busy) and `TIOCEXCL`
//! (the kernel refuses further opens by unprivileged processes).

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::{FromRawFd, IntoRawFd};

use nix::sys::termios::{
    BaudRate, ControlFlags, InputFlags, SetArg, SpecialCharacterIndices, Termios, cfmakeraw,
    cfsetspeed, tcgetattr, tcsetattr,
};
use serialport::SerialPort;
use tokio_serial::SerialStream;

use super::{FlowControl, Parity, SerialSettings};

/// Opens `settings.port` as a raw, exclusive serial line for async I/O.
pub(super) fn open(settings: &SerialSettings) -> io::Result<SerialStream> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        // No controlling terminal: a scanner's line must never deliver SIGHUP/SIGINT to us.
        .custom_flags(libc_flags::O_NOCTTY | libc_flags::O_NONBLOCK)
        .open(&settings.port)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(io::Error::new(
                io::ErrorKind::ResourceBusy,
                "the port is locked by another program (a second tracegate, ModemManager, a \
                 terminal program); stop it or point this device at another port",
            ));
        }
        Err(TryLockError::Error(e)) => return Err(e),
    }
    configure(&file, settings)?;
    // SAFETY: the fd comes straight from `into_raw_fd`, so it is open and owned by no one else;
    // TTYPort takes ownership and closes it on drop. `from_raw_fd` also sets TIOCEXCL and
    // re-takes the flock we already hold on this open file description.
    let mut tty = unsafe { serialport::TTYPort::from_raw_fd(file.into_raw_fd()) };
    if standard_rate(settings.baud).is_none() {
        tty.set_baud_rate(settings.baud).map_err(io::Error::from)?;
    }
    SerialStream::try_from(tty).map_err(io::Error::from)
}

/// Raw mode (no echo, no line editing, no CR/LF translation, no signals: every byte as sent),
/// receiver on, modem-control lines ignored, and the configured framing and speed.
fn configure(file: &File, settings: &SerialSettings) -> io::Result<()> {
    let mut t = tcgetattr(file)?;
    apply(&mut t, settings)?;
    tcsetattr(file, SetArg::TCSANOW, &t)?;
    Ok(())
}

/// The settings written into a termios value (pure, so it is testable: a pty, unlike a UART,
/// forces CS8 and no parity whatever it is told — Linux drivers/tty/pty.c, `pty_set_termios`).
fn apply(t: &mut Termios, settings: &SerialSettings) -> io::Result<()> {
    cfmakeraw(t);
    t.control_flags |= ControlFlags::CREAD | ControlFlags::CLOCAL;

    t.control_flags &= !ControlFlags::CSIZE;
    t.control_flags |= match settings.data_bits {
        5 => ControlFlags::CS5,
        6 => ControlFlags::CS6,
        7 => ControlFlags::CS7,
        _ => ControlFlags::CS8,
    };

    t.control_flags &= !(ControlFlags::PARENB | ControlFlags::PARODD);
    t.input_flags &= !InputFlags::INPCK;
    match settings.parity {
        Parity::None => {}
        Parity::Odd => {
            t.control_flags |= ControlFlags::PARENB | ControlFlags::PARODD;
            t.input_flags |= InputFlags::INPCK;
        }
        Parity::Even => {
            t.control_flags |= ControlFlags::PARENB;
            t.input_flags |= InputFlags::INPCK;
        }
    }

    t.control_flags
        .set(ControlFlags::CSTOPB, settings.stop_bits == 2);

    t.control_flags &= !ControlFlags::CRTSCTS;
    t.input_flags &= !(InputFlags::IXON | InputFlags::IXOFF | InputFlags::IXANY);
    match settings.flow_control {
        FlowControl::None => {}
        FlowControl::Software => t.input_flags |= InputFlags::IXON | InputFlags::IXOFF,
        FlowControl::Hardware => t.control_flags |= ControlFlags::CRTSCTS,
    }

    // A read returns as soon as one byte is there; frame timing is the codec's business.
    t.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
    t.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;

    if let Some(rate) = standard_rate(settings.baud) {
        cfsetspeed(t, rate)?;
    }
    Ok(())
}

/// The termios constant for a standard line speed (POSIX plus the Linux extensions), or
/// `None` for a speed that needs `termios2`.
fn standard_rate(baud: u32) -> Option<BaudRate> {
    Some(match baud {
        50 => BaudRate::B50,
        75 => BaudRate::B75,
        110 => BaudRate::B110,
        134 => BaudRate::B134,
        150 => BaudRate::B150,
        200 => BaudRate::B200,
        300 => BaudRate::B300,
        600 => BaudRate::B600,
        1200 => BaudRate::B1200,
        1800 => BaudRate::B1800,
        2400 => BaudRate::B2400,
        4800 => BaudRate::B4800,
        9600 => BaudRate::B9600,
        19200 => BaudRate::B19200,
        38400 => BaudRate::B38400,
        57600 => BaudRate::B57600,
        115200 => BaudRate::B115200,
        230400 => BaudRate::B230400,
        460800 => BaudRate::B460800,
        500000 => BaudRate::B500000,
        576000 => BaudRate::B576000,
        921600 => BaudRate::B921600,
        1000000 => BaudRate::B1000000,
        1152000 => BaudRate::B1152000,
        1500000 => BaudRate::B1500000,
        2000000 => BaudRate::B2000000,
        2500000 => BaudRate::B2500000,
        3000000 => BaudRate::B3000000,
        3500000 => BaudRate::B3500000,
        4000000 => BaudRate::B4000000,
        _ => return None,
    })
}

/// The open(2) flags, from nix's libc so no separate libc dependency is needed.
mod libc_flags {
    pub use nix::libc::{O_NOCTTY, O_NONBLOCK};
}

#[cfg(all(test, feature = "sim"))]
mod tests {
    use super::*;
    use nix::sys::termios::{LocalFlags, OutputFlags, cfgetospeed};
    use std::os::fd::AsRawFd;

    use crate::sim::VirtualSerialPort;

    fn line_settings(port: &VirtualSerialPort) -> SerialSettings {
        SerialSettings::new(port.path().to_string_lossy())
    }

    fn termios_of(stream: &SerialStream) -> Termios {
        // SAFETY: the stream outlives the borrowed fd, which is only read from here.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(stream.as_raw_fd()) };
        tcgetattr(fd).unwrap()
    }

    #[tokio::test]
    async fn framing_settings_reach_the_termios_value() {
        let mut port = VirtualSerialPort::new().unwrap();
        let mut t = termios_of(port.master());
        let mut s = line_settings(&port);
        s.baud = 19200;
        s.data_bits = 7;
        s.parity = Parity::Odd;
        s.stop_bits = 2;
        s.flow_control = FlowControl::Hardware;
        apply(&mut t, &s).unwrap();
        assert_eq!(cfgetospeed(&t), BaudRate::B19200);
        assert_eq!(t.control_flags & ControlFlags::CSIZE, ControlFlags::CS7);
        assert!(t.control_flags.contains(
            ControlFlags::PARENB
                | ControlFlags::PARODD
                | ControlFlags::CSTOPB
                | ControlFlags::CRTSCTS
        ));
        assert!(t.input_flags.contains(InputFlags::INPCK));
        // Back to 8N1 without flow control: nothing of the previous framing is left over.
        apply(&mut t, &line_settings(&port)).unwrap();
        assert_eq!(t.control_flags & ControlFlags::CSIZE, ControlFlags::CS8);
        assert!(
            !t.control_flags
                .intersects(ControlFlags::PARENB | ControlFlags::CSTOPB | ControlFlags::CRTSCTS)
        );
        assert!(
            !t.input_flags
                .intersects(InputFlags::INPCK | InputFlags::IXON)
        );
    }

    #[tokio::test]
    async fn an_opened_port_is_raw_at_the_configured_speed() {
        let port = VirtualSerialPort::new().unwrap();
        let mut s = line_settings(&port);
        s.baud = 115200;
        s.stop_bits = 2;
        s.flow_control = FlowControl::Software;
        let t = termios_of(&s.open().unwrap());
        assert_eq!(cfgetospeed(&t), BaudRate::B115200);
        assert!(
            t.control_flags
                .contains(ControlFlags::CSTOPB | ControlFlags::CLOCAL)
        );
        assert!(t.input_flags.contains(InputFlags::IXON | InputFlags::IXOFF));
        // Raw: no echo, no canonical line editing, no CR→LF mapping, no output processing.
        assert!(
            !t.local_flags
                .intersects(LocalFlags::ECHO | LocalFlags::ICANON | LocalFlags::ISIG)
        );
        assert!(!t.input_flags.contains(InputFlags::ICRNL));
        assert!(!t.output_flags.contains(OutputFlags::OPOST));
    }

    #[tokio::test]
    async fn a_port_in_use_by_another_program_is_refused_with_a_reason() {
        let port = VirtualSerialPort::new().unwrap();
        let other = File::options()
            .read(true)
            .write(true)
            .open(port.path())
            .unwrap();
        other.lock().unwrap();
        let err = line_settings(&port).open().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ResourceBusy);
        assert!(
            err.to_string().contains("locked by another program"),
            "{err}"
        );
        drop(other);
        assert!(line_settings(&port).open().is_ok());
    }

    #[test]
    fn standard_rates_are_recognised_and_odd_ones_are_not() {
        assert_eq!(standard_rate(9600), Some(BaudRate::B9600));
        assert_eq!(standard_rate(115200), Some(BaudRate::B115200));
        assert_eq!(standard_rate(250000), None);
        assert_eq!(standard_rate(0), None);
    }
}
