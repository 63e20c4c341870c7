//! The simulated printers over their real transports — a ZPL printer on loopback TCP, a TSPL
//! printer on a pty — read with the status codecs a driver uses: labels counted with their
//! quantities, `~HS` / `<ESC>!?` answered in the manuals' formats, faults reported and cleared,
//! a roll running out mid-batch, a connection dropped mid-job, and current Zebra firmware's
//! silence to `~HS` while out of paper.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::FramedRead;
use tracegate_drivers::printer::zpl::{HOST_STATUS, HostStatusCodec, ZplItem};
use tracegate_drivers::printer::{Fault, PrinterStatus, tspl};
use tracegate_drivers::serial::SerialSettings;
use tracegate_drivers::sim::{SimPrinter, SimPrinterConfig};

const LIMIT: Duration = Duration::from_secs(10);

async fn zpl_status(
    write: &mut tokio::net::tcp::OwnedWriteHalf,
    read: &mut FramedRead<tokio::net::tcp::OwnedReadHalf, HostStatusCodec>,
) -> PrinterStatus {
    write.write_all(HOST_STATUS).await.unwrap();
    loop {
        let item = tokio::time::timeout(LIMIT, read.next())
            .await
            .expect("an answer to ~HS")
            .expect("connection open")
            .unwrap();
        if let ZplItem::Status(status) = item {
            return status.status();
        }
    }
}

#[tokio::test]
async fn a_zpl_printer_counts_labels_and_reports_paper_out_mid_batch_until_a_new_roll() {
    let printer = SimPrinter::start_zpl(SimPrinterConfig {
        roll: Some(4),
        ..SimPrinterConfig::default()
    })
    .await
    .unwrap();
    let (read, mut write) = TcpStream::connect(printer.addr.unwrap())
        .await
        .unwrap()
        .into_split();
    let mut read = FramedRead::new(read, HostStatusCodec::new());
    write
        .write_all(b"^XA^FO50,50^A0N,40,40^FDone^FS^XZ^XA^PQ6^FDsix^FS^XZ")
        .await
        .unwrap();
    let status = zpl_status(&mut write, &mut read).await;
    // Four on the roll: one of the first format, three of the batch of six.
    assert_eq!(printer.printed(), 4);
    assert_eq!(status.faults, [Fault::PaperOut]);
    assert_eq!(status.labels_remaining, Some(3));
    assert_eq!(status.formats_waiting, Some(1));
    printer.set_fault(Fault::PaperOut, false);
    let status = zpl_status(&mut write, &mut read).await;
    assert!(status.ready(), "{status:?}");
    assert_eq!(printer.printed(), 7);
    assert_eq!(printer.jobs(), 2);
    assert!(printer.received().starts_with(b"^XA^FO50,50"));
}

#[tokio::test]
async fn current_zebra_firmware_is_silent_to_host_status_while_out_of_paper() {
    let printer = SimPrinter::start_zpl(SimPrinterConfig {
        silent_when_faulted: true,
        ..SimPrinterConfig::default()
    })
    .await
    .unwrap();
    let (read, mut write) = TcpStream::connect(printer.addr.unwrap())
        .await
        .unwrap()
        .into_split();
    let mut read = FramedRead::new(read, HostStatusCodec::new());
    printer.set_fault(Fault::PaperOut, true);
    write.write_all(HOST_STATUS).await.unwrap();
    // Received, and not answered: the next answer is to the request after the new roll.
    while printer.status_requests() < 1 {
        tokio::task::yield_now().await;
    }
    printer.set_fault(Fault::PaperOut, false);
    let status = zpl_status(&mut write, &mut read).await;
    assert!(
        status.ready(),
        "the faulted request was not answered: {status:?}"
    );
    assert_eq!(printer.status_requests(), 2);
}

#[tokio::test]
async fn a_connection_dropped_mid_job_loses_the_partial_format_only() {
    let printer = SimPrinter::start_zpl(SimPrinterConfig::default())
        .await
        .unwrap();
    let job = b"^XA^FDfirst^FS^XZ^XA^FDsecond^FS^XZ";
    printer.drop_after(20); // inside the second format
    let mut stream = TcpStream::connect(printer.addr.unwrap()).await.unwrap();
    stream.write_all(job).await.unwrap();
    let mut rest = Vec::new();
    let n = tokio::time::timeout(LIMIT, stream.read_to_end(&mut rest))
        .await
        .expect("the printer closes the connection");
    assert_eq!(n.unwrap_or(0), 0);
    assert_eq!(printer.printed(), 1, "the first format was whole");
    // A new connection: the job sent again prints (the first label a second time — which
    // is why the queue, not the transport, decides what to resend).
    let (read, mut write) = TcpStream::connect(printer.addr.unwrap())
        .await
        .unwrap()
        .into_split();
    let mut read = FramedRead::new(read, HostStatusCodec::new());
    write.write_all(job).await.unwrap();
    zpl_status(&mut write, &mut read).await;
    assert_eq!(printer.printed(), 3);
}

#[tokio::test]
async fn a_tspl_printer_on_a_pty_answers_its_status_byte_and_counts_copies() {
    let printer = SimPrinter::start_tspl(SimPrinterConfig::default(), None).unwrap();
    let mut port = SerialSettings::new(printer.path.as_ref().unwrap().to_string_lossy())
        .open()
        .unwrap();
    let mut byte = [0u8; 1];
    port.write_all(b"SIZE 60 mm,40 mm\r\nGAP 2 mm,0\r\nCLS\r\nTEXT 20,20,\"3\",0,1,1,\"LOT A1\"\r\nPRINT 2,2\r\n")
        .await
        .unwrap();
    port.write_all(tspl::STATUS_BYTE).await.unwrap();
    tokio::time::timeout(LIMIT, port.read_exact(&mut byte))
        .await
        .unwrap()
        .unwrap();
    assert!(tspl::status_byte(byte[0]).ready(), "{byte:?}");
    assert_eq!(printer.printed(), 4);
    printer.set_fault(Fault::HeadOpen, true);
    port.write_all(tspl::STATUS_BYTE).await.unwrap();
    tokio::time::timeout(LIMIT, port.read_exact(&mut byte))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tspl::status_byte(byte[0]).faults, [Fault::HeadOpen]);
    // PRINT while the head is open waits; closing it prints.
    port.write_all(b"PRINT 1\r\n\x1b!?").await.unwrap();
    tokio::time::timeout(LIMIT, port.read_exact(&mut byte))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(printer.printed(), 4);
    assert_eq!(printer.status().labels_remaining, Some(1));
    printer.set_fault(Fault::HeadOpen, false);
    assert_eq!(printer.printed(), 5);
}
