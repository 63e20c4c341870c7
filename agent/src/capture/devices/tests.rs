//! The one-place rule: a kind defined here, in a test module only, is parsed, started and
//! sent commands through the same registry, config parser and running-device code as the
//! built-in kinds — nothing else in the tree names it.

use std::path::Path;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use serde::Deserialize;
use tokio::sync::mpsc;
use tracegate_drivers::{
    CommandDone, CommandRequest, DeviceCommand, DeviceEvent, RawRead, ReadMeta,
};

use super::*;
use crate::config::Config;
use crate::config::fields::field_names;
use crate::config::{ConfigError, KindKeys};

/// `test-echo`: reads back, as a read, whatever it is sent.
struct EchoKind;

static ECHO: EchoKind = EchoKind;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct EchoSettings {
    prefix: String,
}

impl KindSpec for EchoKind {
    fn name(&self) -> &'static str {
        "test-echo"
    }

    fn roles(&self) -> Roles {
        Roles {
            input: true,
            output: true,
        }
    }

    fn sections(&self) -> Vec<&'static [&'static str]> {
        vec![field_names::<EchoSettings>()]
    }

    fn parse(&self, keys: &mut KindKeys<'_>) -> Result<Arc<dyn DeviceSettings>, ConfigError> {
        let settings: EchoSettings = keys.section()?;
        if settings.prefix.is_empty() {
            return Err(keys.error("prefix", "prefix must not be empty"));
        }
        Ok(Arc::new(settings))
    }
}

impl DeviceSettings for EchoSettings {
    fn start(&self, start: Start<'_>) -> std::io::Result<()> {
        let Start {
            id,
            events,
            mut commands,
            cancel,
            tasks,
        } = start;
        let prefix = self.prefix.clone();
        tasks.spawn(async move {
            loop {
                let request = tokio::select! {
                    _ = cancel.cancelled() => return,
                    request = commands.next() => request,
                };
                let DeviceCommand::Send(bytes) = &request.command else {
                    request.unsupported();
                    continue;
                };
                let mut payload = prefix.clone().into_bytes();
                payload.extend_from_slice(bytes);
                let read = RawRead {
                    device: id.clone(),
                    at: SystemTime::now(),
                    mono: Instant::now(),
                    payload: payload.into(),
                    meta: ReadMeta::default(),
                };
                let len = bytes.len();
                let _ = events.send(DeviceEvent::Read(read)).await;
                request.answer(Ok(CommandDone::Sent { bytes: len }));
            }
        });
        Ok(())
    }
}

const BASE: &str =
    "[gateway]\nid = \"gw\"\n[store]\npath = \"o.db\"\n[mqtt]\nhost = \"127.0.0.1\"\n";

fn config(devices: &str, registry: &Registry) -> Result<Config, ConfigError> {
    Config::parse(
        Path::new("/etc/tracegate/t.toml"),
        &format!("{BASE}{devices}"),
        registry,
    )
}

#[test]
fn a_simulated_kind_in_a_build_without_simulators_is_refused_with_the_reason() {
    // What the gateway packages (no `sim` feature) answer for the demo's config.
    let registry = Registry::new(vec![&ECHO]).without_simulators(&["sim-scanner"]);
    let devices = "[[devices]]\nid = \"s1\"\nkind = \"sim-scanner\"\n";
    let e = config(devices, &registry).unwrap_err().to_string();
    assert!(e.contains("t.toml:9:"), "names the line: {e}");
    assert!(
        e.contains("\"sim-scanner\" is a simulated device")
            && e.contains("without the `sim` feature")
            && e.contains("test-echo"),
        "says why and what to use instead: {e}"
    );
    // A kind that is neither known nor left out is still simply unknown.
    let devices = "[[devices]]\nid = \"s1\"\nkind = \"sim-nothing\"\n";
    let e = config(devices, &registry).unwrap_err().to_string();
    assert!(e.contains("unknown device kind"), "{e}");
}

#[test]
fn a_kind_registered_in_a_test_is_a_kind_like_any_other() {
    let registry = super::builtin().with(&ECHO);
    let devices = "[[devices]]\nid = \"e1\"\nkind = \"test-echo\"\nprefix = \"E:\"\nbiz_step = \"shipping\"\n";
    let c = config(devices, &registry).unwrap();
    let device = &c.devices[0];
    assert_eq!(device.kind, "test-echo");
    assert_eq!(device.settings_as::<EchoSettings>().unwrap().prefix, "E:");
    // Both roles: it took an input's business context.
    assert!(device.input.is_some());

    // Its keys are checked like a built-in kind's, at their line.
    let e = config(
        "[[devices]]\nid = \"e1\"\nkind = \"test-echo\"\nprefix = \"\"\n",
        &registry,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains(":10:") && e.contains("prefix must not be empty"),
        "{e}"
    );
    let e = config(
        "[[devices]]\nid = \"e1\"\nkind = \"test-echo\"\nprefx = \"a\"\n",
        &registry,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("unknown key `prefx`") && e.contains("prefix"),
        "{e}"
    );

    // Without the registration it does not exist.
    let e = config(devices, &super::builtin()).unwrap_err().to_string();
    assert!(
        e.contains("unknown device kind \"test-echo\"") && e.contains("sim-output"),
        "{e}"
    );
}

#[test]
fn an_output_only_kind_takes_no_capture_or_context_keys() {
    let e = config(
        "[[devices]]\nid = \"l1\"\nkind = \"sim-output\"\nlines = [\"red\"]\nbiz_step = \"shipping\"\n",
        &super::builtin(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("unknown key `biz_step`")
            && e.contains("a sim-output device takes: id, kind, lines"),
        "{e}"
    );
}

#[tokio::test]
async fn commands_reach_a_running_test_kind_and_its_reads_come_back() {
    let registry = super::builtin().with(&ECHO);
    let c = config(
        "[[devices]]\nid = \"e1\"\nkind = \"test-echo\"\nprefix = \"E:\"\n",
        &registry,
    )
    .unwrap();
    let (tx, mut rx) = mpsc::channel(8);
    let mut devices = Devices::new(tx);
    devices.start(&c.devices[0]).unwrap();
    let routes = devices.routes();
    let (request, answer) = CommandRequest::with_reply(DeviceCommand::Send("hi".into()));
    routes.try_send("e1", request).unwrap();
    assert_eq!(answer.await.unwrap(), Ok(CommandDone::Sent { bytes: 2 }));
    let Some(DeviceEvent::Read(read)) = rx.recv().await else {
        panic!("a read")
    };
    assert_eq!(&read.payload[..], b"E:hi");

    let (request, answer) = CommandRequest::with_reply(DeviceCommand::ReadWindow(true));
    routes.try_send("e1", request).unwrap();
    assert!(answer.await.unwrap().is_err());

    devices.stop("e1").await;
    assert!(
        routes
            .try_send(
                "e1",
                CommandRequest::fire_and_forget(DeviceCommand::ReadWindow(true))
            )
            .is_err()
    );
}

#[test]
fn serial_rfid_kinds_take_their_own_defaults_and_refuse_what_cannot_work() {
    use crate::capture::devices::kinds::lf_reader::LfReaderConfig;
    use crate::capture::devices::kinds::uhf_module::{ModuleSettings, UhfModuleConfig};
    use tracegate_drivers::rfid::chafon::Band;
    use tracegate_identifiers::Mode;
    let registry = super::builtin();
    let c = config(
        "[[devices]]\nid = \"stick\"\nkind = \"lf-reader\"\nport = \"/dev/ttyUSB1\"\n\
         [[devices]]\nid = \"stick2\"\nkind = \"lf-reader\"\nport = \"/dev/ttyUSB2\"\ndecode_as = \"plain\"\n\
         [[devices]]\nid = \"uhf\"\nkind = \"uhf-module\"\nprotocol = \"r2000\"\nport = \"/dev/ttyUSB0\"\nantennas = [1, 2]\n",
        &registry,
    )
    .unwrap();
    // An LF reader decodes ISO 11784 unless told otherwise; an R2000 line runs at 115200.
    assert_eq!(c.devices[0].capture().unwrap().decode_as, Mode::Iso11784);
    assert_eq!(c.devices[1].capture().unwrap().decode_as, Mode::Plain);
    assert_eq!(
        c.devices[0]
            .settings_as::<LfReaderConfig>()
            .unwrap()
            .serial
            .baud,
        9600
    );
    let uhf = c.devices[2].settings_as::<UhfModuleConfig>().unwrap();
    assert_eq!(uhf.serial.baud, 115_200);
    let ModuleSettings::R2000(r2000) = &uhf.module else {
        panic!("{:?}", uhf.module)
    };
    assert_eq!(r2000.antennas, vec![1, 2]);
    assert!(c.devices[2].capabilities.rfid.is_some());
    // A Chafon line runs at 57600 and takes its own keys.
    let chafon = config(
        "[[devices]]\nid = \"desk\"\nkind = \"uhf-module\"\nprotocol = \"chafon\"\nport = \"/dev/ttyUSB0\"\n\
         region = \"eu\"\ntx_power_dbm = 20\nscan_time_ms = 500\n",
        &registry,
    )
    .unwrap();
    let desk = chafon.devices[0].settings_as::<UhfModuleConfig>().unwrap();
    assert_eq!(desk.serial.baud, 57_600);
    let ModuleSettings::Chafon(settings) = &desk.module else {
        panic!("{:?}", desk.module)
    };
    assert_eq!(settings.region, Some(Band::Eu));
    assert_eq!(settings.tx_power_dbm, Some(20));
    assert_eq!(settings.scan_time_ms, Some(500));

    let refused = |table: &str| {
        config(&format!("[[devices]]\nid = \"uhf\"\n{table}"), &registry)
            .unwrap_err()
            .to_string()
    };
    let e = refused("kind = \"uhf-module\"\nport = \"/dev/ttyUSB0\"\n");
    assert!(e.contains("needs protocol") && e.contains("chafon"), "{e}");
    let e = refused(
        "kind = \"uhf-module\"\nprotocol = \"chafon\"\nport = \"/dev/ttyUSB0\"\nantennas = [1, 2]\n",
    );
    assert!(
        e.contains("antennas does not apply") && e.contains("one antenna port"),
        "{e}"
    );
    let e = refused(
        "kind = \"uhf-module\"\nprotocol = \"chafon\"\nport = \"/dev/ttyUSB0\"\ntx_power_dbm = 33\n",
    );
    assert!(e.contains("0 to 30 dBm"), "{e}");
    let e = refused(
        "kind = \"uhf-module\"\nprotocol = \"chafon\"\nport = \"/dev/ttyUSB0\"\nscan_time_ms = 250\n",
    );
    assert!(e.contains("steps of 100"), "{e}");
    let e = refused(
        "kind = \"uhf-module\"\nprotocol = \"chafon\"\nport = \"/dev/ttyUSB0\"\nregion = \"mars\"\n",
    );
    assert!(e.contains("region") && e.contains("eu"), "{e}");
    let e = refused(
        "kind = \"uhf-module\"\nprotocol = \"r2000\"\nport = \"/dev/ttyUSB0\"\nregion = \"eu\"\n",
    );
    assert!(e.contains("region is a Chafon key"), "{e}");
    let e = refused(
        "kind = \"uhf-module\"\nprotocol = \"r2000\"\nport = \"/dev/ttyUSB0\"\nantennas = [5]\n",
    );
    assert!(e.contains("antennas") && e.contains("1 to 4"), "{e}");
    let e = refused(
        "kind = \"uhf-module\"\nprotocol = \"r2000\"\nport = \"/dev/ttyUSB0\"\ntx_power_dbm = 40\n",
    );
    assert!(e.contains("tx_power_dbm = 40"), "{e}");
    let e = refused("kind = \"sim-lf-reader\"\nherd = [\"98200000025589\"]\n");
    assert!(e.contains("not 15 digits"), "{e}");
}

#[test]
fn a_label_printer_takes_one_transport_and_refuses_keys_that_cannot_apply() {
    use crate::capture::devices::kinds::label_printer::LabelPrinterConfig;
    use tracegate_drivers::printer::driver::Transport;
    let registry = super::builtin();
    let c = config(
        "[[devices]]\nid = \"p1\"\nkind = \"label-printer\"\nlanguage = \"zpl\"\naddress = \"10.0.0.9:9100\"\n\
         [[devices]]\nid = \"p2\"\nkind = \"label-printer\"\nlanguage = \"tspl\"\nport = \"/dev/ttyUSB0\"\nbaud = 115200\n\
         [[devices]]\nid = \"p3\"\nkind = \"label-printer\"\nlanguage = \"zpl\"\nusb = \"/dev/usb/lp0\"\n",
        &registry,
    )
    .unwrap();
    let transport = |n: usize| {
        c.devices[n]
            .settings_as::<LabelPrinterConfig>()
            .unwrap()
            .transport
            .clone()
    };
    assert_eq!(transport(0), Transport::Tcp("10.0.0.9:9100".into()));
    let Transport::Serial(serial) = transport(1) else {
        panic!("serial")
    };
    assert_eq!(serial.baud, 115_200);
    assert_eq!(transport(2), Transport::UsbPrinter("/dev/usb/lp0".into()));
    // An output: no capture settings.
    assert!(c.devices[0].capture().is_none());

    let refused = |table: &str| {
        config(&format!("[[devices]]\nid = \"p\"\n{table}"), &registry)
            .unwrap_err()
            .to_string()
    };
    let e = refused("kind = \"label-printer\"\nlanguage = \"zpl\"\n");
    assert!(e.contains("exactly one of address"), "{e}");
    let e = refused(
        "kind = \"label-printer\"\nlanguage = \"zpl\"\naddress = \"a:9100\"\nusb = \"/dev/usb/lp0\"\n",
    );
    assert!(e.contains("exactly one of address"), "{e}");
    let e = refused("kind = \"label-printer\"\nlanguage = \"zpl\"\naddress = \"printer-7\"\n");
    assert!(e.contains("\"printer-7:9100\""), "{e}");
    let e = refused(
        "kind = \"label-printer\"\nlanguage = \"zpl\"\naddress = \"a:9100\"\nbaud = 9600\n",
    );
    assert!(e.contains("baud is a serial line setting"), "{e}");
    let e = refused("kind = \"label-printer\"\nlanguage = \"epl\"\naddress = \"a:9100\"\n");
    assert!(e.contains("language") && e.contains("zpl"), "{e}");
    let e = refused(
        "kind = \"label-printer\"\nlanguage = \"zpl\"\naddress = \"a:9100\"\nstatus_interval_ms = 50\n",
    );
    assert!(e.contains("slows a printer"), "{e}");
    let e = refused("kind = \"sim-label-printer\"\nlanguage = \"tspl\"\nroll = 0\n");
    assert!(e.contains("at least one label"), "{e}");
}
