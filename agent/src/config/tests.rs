use super::*;

const MINIMAL: &str = r#"
[gateway]
id = "gw-dock-01"

[store]
path = "data/outbox.db"

[mqtt]
host = "127.0.0.1"
"#;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(
        Path::new("/etc/tracegate/tracegate.toml"),
        text,
        &crate::capture::devices::builtin(),
    )
}

fn err(text: &str) -> (usize, String) {
    match parse(text) {
        Ok(_) => panic!("config should be rejected:\n{text}"),
        Err(ConfigError::Invalid { line, message, .. }) => (line, message),
        Err(e) => panic!("unexpected error kind: {e}"),
    }
}

#[test]
fn minimal_config_gets_documented_defaults() {
    let c = parse(MINIMAL).unwrap();
    assert_eq!(c.gateway.id.as_str(), "gw-dock-01");
    assert_eq!(c.store.path, Path::new("/etc/tracegate/data/outbox.db"));
    assert_eq!(c.store.max_events, 5_000_000);
    assert_eq!(c.store.max_bytes, bytesize::ByteSize::gib(2));
    assert_eq!(c.store.when_full, WhenFull::RefuseNew);
    assert_eq!(c.mqtt.as_ref().unwrap().port, 1883);
    assert_eq!(c.mqtt.as_ref().unwrap().client_id, "tracegate-gw-dock-01");
    assert_eq!(c.mqtt.as_ref().unwrap().topic_prefix.as_str(), "tracegate");
    assert_eq!(c.mqtt.as_ref().unwrap().batch_max_bytes, 256 * 1024);
    assert!(c.devices.is_empty());
    assert_eq!(
        c.control_socket(),
        Path::new("/etc/tracegate/data/control.sock")
    );
}

#[test]
fn serial_scanner_device_is_parsed_into_driver_settings() {
    let c = parse(&format!(
        "{MINIMAL}\n[[devices]]\nid = \"scanner-1\"\nkind = \"serial-scanner\"\nport = \"/dev/ttyACM0\"\nbaud = 115200\nframe_end = \"crlf\"\nparity = \"even\"\ndata_bits = 7\n"
    ))
    .unwrap();
    let s = &c.devices[0]
        .settings_as::<crate::capture::devices::kinds::serial_scanner::SerialScannerConfig>()
        .expect("a serial scanner")
        .scanner;
    assert_eq!(&*c.devices[0].id, "scanner-1");
    assert_eq!(s.serial.port, "/dev/ttyACM0");
    assert_eq!(s.serial.baud, 115200);
    assert_eq!(s.serial.data_bits, 7);
    assert_eq!(
        s.frame.frame_end,
        tracegate_drivers::scanner::FrameEnd::Crlf
    );
}

#[test]
fn unknown_top_level_key_names_key_and_line() {
    let (line, msg) = err(&format!("{MINIMAL}\n[mqtt2]\nx = 1\n"));
    assert_eq!(line, 11);
    assert!(msg.contains("unknown field `mqtt2`"), "{msg}");
}

#[test]
fn unknown_device_key_points_at_the_key_itself() {
    let (line, msg) = err(&format!(
        "{MINIMAL}\n[[devices]]\nid = \"s1\"\nkind = \"serial-scanner\"\nport = \"/dev/ttyACM0\"\nbauds = 9600\n"
    ));
    assert_eq!(line, 15);
    assert!(
        msg.contains("devices[0] (id \"s1\", kind serial-scanner): unknown key `bauds`"),
        "{msg}"
    );
    assert!(msg.contains("baud"), "lists the allowed keys: {msg}");
}

#[test]
fn wrong_type_points_at_the_value() {
    let (line, msg) = err(&format!(
        "{MINIMAL}\n[[devices]]\nid = \"s1\"\nkind = \"serial-scanner\"\nport = \"/dev/ttyACM0\"\nbaud = \"fast\"\n"
    ));
    assert_eq!(line, 15);
    assert!(
        msg.contains("invalid type: string \"fast\", expected u32"),
        "{msg}"
    );
    let (line, msg) = err(&MINIMAL.replace("id = \"gw-dock-01\"", "id = 7"));
    assert_eq!(line, 3);
    assert!(msg.contains("invalid type"), "{msg}");
}

#[test]
fn missing_device_settings_name_the_device() {
    let (line, msg) = err(&format!(
        "{MINIMAL}\n[[devices]]\nid = \"s1\"\nkind = \"serial-scanner\"\n"
    ));
    assert_eq!(line, 11);
    assert!(
        msg.contains("devices[0] (id \"s1\", kind serial-scanner): missing field `port`"),
        "{msg}"
    );
    let (_, msg) = err(&format!("{MINIMAL}\n[[devices]]\nid = \"s1\"\n"));
    assert!(
        msg.contains("missing key `kind`; one of: serial-scanner"),
        "{msg}"
    );
    let (line, msg) = err(&format!(
        "{MINIMAL}\n[[devices]]\nid = \"s1\"\nkind = \"laser\"\n"
    ));
    assert_eq!(line, 13);
    assert!(msg.contains("unknown device kind \"laser\""), "{msg}");
}

#[test]
fn impossible_serial_values_point_at_the_key() {
    let (line, msg) = err(&format!(
        "{MINIMAL}\n[[devices]]\nid = \"s1\"\nkind = \"serial-scanner\"\nport = \"/dev/x\"\ndata_bits = 9\n"
    ));
    assert_eq!(line, 15);
    assert!(msg.contains("data_bits = 9"), "{msg}");
}

#[test]
fn duplicate_device_ids_are_rejected() {
    let dev = "[[devices]]\nid = \"s1\"\nkind = \"sim-scanner\"\n";
    let (line, msg) = err(&format!("{MINIMAL}\n{dev}{dev}"));
    assert_eq!(line, 15);
    assert!(msg.contains("used by an earlier device"), "{msg}");
}

#[test]
fn unreadable_password_file_is_a_config_error() {
    let text = MINIMAL.replace(
        "host = \"127.0.0.1\"",
        "host = \"127.0.0.1\"\nusername = \"gw\"\npassword_file = \"/nonexistent/tracegate-password\"",
    );
    let (line, msg) = err(&text);
    assert_eq!(line, 11);
    assert!(
        msg.contains("mqtt.password_file: cannot read /nonexistent/tracegate-password"),
        "{msg}"
    );
}

#[test]
fn password_is_read_without_its_trailing_newline() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "s3cret\n").unwrap();
    let text = MINIMAL.replace(
        "host = \"127.0.0.1\"",
        "host = \"127.0.0.1\"\nusername = \"gw\"\npassword_file = \"pw\"",
    );
    let c = Config::parse(
        &dir.path().join("t.toml"),
        &text,
        &crate::capture::devices::builtin(),
    )
    .unwrap();
    assert_eq!(
        c.mqtt.as_ref().unwrap().password.as_ref().unwrap().expose(),
        "s3cret"
    );
}

#[test]
fn bad_values_are_rejected_at_their_line() {
    let (line, msg) = err(&MINIMAL.replace("[store]", "[store]\nwhen_full = \"panic\""));
    assert_eq!(line, 6);
    assert!(msg.contains("unknown variant `panic`"), "{msg}");
    let (line, msg) = err(&MINIMAL.replace("gw-dock-01", "gw/dock"));
    assert_eq!(line, 3);
    assert!(msg.contains("gateway.id"), "{msg}");
    let (line, msg) = err(&MINIMAL.replace("[store]", "[store]\nmax_bytes = \"lots\""));
    assert_eq!(line, 6);
    assert!(msg.contains("max_bytes") || msg.contains("lots"), "{msg}");
    let (line, _) = err(&MINIMAL.replace("host = \"127.0.0.1\"", "host = \"h\"\nmax_inflight = 0"));
    assert_eq!(line, 10);
}

#[test]
fn toml_syntax_errors_have_a_line() {
    let (line, _) = err("[gateway]\nid = \"x\n");
    assert_eq!(line, 2);
}

#[test]
fn every_example_config_in_the_repository_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
    let mut loaded = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            Config::load(&path, &crate::capture::devices::builtin())
                .unwrap_or_else(|e| panic!("{e}"));
            loaded += 1;
        }
    }
    assert!(loaded >= 4, "demo, gate, packing-line, farm: {loaded}");
}

#[test]
fn metrics_are_off_by_default_and_listen_on_loopback_only() {
    assert_eq!(parse(MINIMAL).unwrap().metrics.listen, None);
    let c = parse(&format!(
        "{MINIMAL}\n[metrics]\nlisten = \"127.0.0.1:9180\"\n"
    ))
    .unwrap();
    assert_eq!(c.metrics.listen, Some("127.0.0.1:9180".parse().unwrap()));
    let c = parse(&format!("{MINIMAL}\n[metrics]\nlisten = \"[::1]:9180\"\n")).unwrap();
    assert_eq!(c.metrics.listen, Some("[::1]:9180".parse().unwrap()));

    let (line, message) = err(&format!(
        "{MINIMAL}\n[metrics]\nlisten = \"0.0.0.0:9180\"\n"
    ));
    assert_eq!(line, 12);
    assert!(message.contains("loopback only"), "{message}");
    let (_, message) = err(&format!("{MINIMAL}\n[metrics]\nlisten = \"localhost\"\n"));
    assert!(message.contains("not an address and port"), "{message}");
}

#[test]
fn the_page_is_off_by_default_and_needs_a_password_off_loopback() {
    assert_eq!(parse(MINIMAL).unwrap().web.listen, None);
    let c = parse(&format!("{MINIMAL}\n[web]\n")).unwrap();
    assert_eq!(c.web.listen, Some("127.0.0.1:8080".parse().unwrap()));
    assert!(c.web.password.is_none() && c.web.tls.is_none());

    let (line, message) = err(&format!("{MINIMAL}\n[web]\nlisten = \"0.0.0.0:8080\"\n"));
    assert_eq!(line, 12);
    assert!(message.contains("web.password_file"), "{message}");
    let (_, message) = err(&format!("{MINIMAL}\n[web]\nlisten = \"8080\"\n"));
    assert!(message.contains("not an address and port"), "{message}");

    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("web-password");
    std::fs::write(&password, "pa55\n").unwrap();
    let c = parse(&format!(
        "{MINIMAL}\n[web]\nlisten = \"0.0.0.0:8443\"\npassword_file = \"{}\"\ncertificate = \"web.crt\"\nprivate_key = \"web.key\"\n",
        password.display()
    ))
    .unwrap();
    assert_eq!(c.web.password.as_ref().map(|p| p.expose()), Some("pa55"));
    assert!(
        !format!("{:?}", c.web).contains("pa55"),
        "the password is never printed"
    );
    let tls = c.web.tls.unwrap();
    assert_eq!(tls.certificate, Path::new("/etc/tracegate/web.crt"));
    let (_, message) = err(&format!("{MINIMAL}\n[web]\ncertificate = \"web.crt\"\n"));
    assert!(message.contains("go together"), "{message}");
}

#[test]
fn tools_load_without_reading_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.toml");
    let text = MINIMAL.replace(
        "host = \"127.0.0.1\"",
        "host = \"127.0.0.1\"\nusername = \"gw\"\npassword_file = \"/nonexistent/tracegate-password\"\n[mqtt.tls]\nca = \"/nonexistent/ca.pem\"",
    );
    std::fs::write(&path, &text).unwrap();
    assert!(Config::load(&path, &crate::capture::devices::builtin()).is_err());
    let c = Config::load_for_tools(&path, &crate::capture::devices::builtin()).unwrap();
    assert!(c.mqtt.as_ref().unwrap().password.is_none());
    assert_eq!(
        c.mqtt.as_ref().unwrap().port,
        8883,
        "TLS still decides the default port"
    );
}

#[test]
fn credential_paths_are_in_the_systemd_credentials_directory() {
    let dir = std::env::var_os("CREDENTIALS_DIRECTORY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/run/credentials/tracegate.service"));
    let base = Path::new("/etc/tracegate");
    for form in [
        "${CREDENTIALS_DIRECTORY}/mqtt-password",
        "$CREDENTIALS_DIRECTORY/mqtt-password",
    ] {
        assert_eq!(
            super::resolve_path(base, Path::new(form)),
            dir.join("mqtt-password")
        );
    }
    assert_eq!(
        super::resolve_path(base, Path::new("certs/ca.pem")),
        Path::new("/etc/tracegate/certs/ca.pem")
    );
    assert_eq!(
        super::resolve_path(base, Path::new("/abs/ca.pem")),
        Path::new("/abs/ca.pem")
    );
}

const IO: &str = r#"
[[devices]]
id = "light"
kind = "gpio-output"
lines = [{ name = "red", pin = 5, active = "low" }, { name = "buzzer", pin = 13 }]

[[devices]]
id = "eye"
kind = "gpio-input"
lines = [{ name = "photo-eye", pin = 17, pull = "up", active = "low", role = "photo-eye" }]
"#;

fn with_io(extra: &str) -> String {
    format!("{MINIMAL}{IO}{extra}")
}

#[test]
fn gpio_devices_and_feedback_rules_load() {
    let c = parse(&with_io(
        "[[feedback]]\non = \"device-down\"\noutput = \"light\"\nline = \"red\"\npattern = \"blink 250ms\"\n\
         [[feedback]]\non = \"rejected\"\noutput = \"light\"\nline = \"buzzer\"\npattern = \"pulses 2x100ms\"\n",
    ))
    .unwrap();
    assert_eq!(c.feedback.len(), 2);
    assert_eq!(c.feedback[0].priority, 50, "device-down's default");
    assert_eq!(c.feedback[1].priority, 20, "rejected's default");
    assert_eq!(c.feedback[1].owner(), "rule 2: rejected");
    assert!(
        !c.sections.contains_key("feedback"),
        "a reload applies rules"
    );
}

#[test]
fn gpio_configuration_errors_say_which_pin_and_why() {
    let (_, m) = err(&with_io("").replace("pin = 17", "pin = 40"));
    assert!(
        m.contains("pin 40 is out of range") && m.contains("BCM"),
        "{m}"
    );
    let (_, m) = err(&with_io("").replace("pin = 13", "pin = 5"));
    assert!(m.contains("pin 5 is used twice"), "{m}");
    let (_, m) = err(&with_io("").replace("pin = 17", "pin = 13"));
    assert!(
        m.contains("GPIO pin 13 is used by both device \"light\" and device \"eye\""),
        "{m}"
    );
    let (_, m) = err(&with_io("").replace("debounce_ms", "x").replace(
        "role = \"photo-eye\"",
        "role = \"photo-eye\", debounce_ms = 5000",
    ));
    assert!(m.contains("debounce_ms must be 0 to 1000"), "{m}");
    let (_, m) = err(&with_io("").replace(
        "role = \"photo-eye\"",
        "role = \"photo-eye\", biz_step = \"arriving\"",
    ));
    assert!(
        m.contains("biz_step is set but no edge is recorded; add record"),
        "{m}"
    );
    let (_, m) = err(&with_io("").replace(
        "role = \"photo-eye\"",
        "role = \"photo-eye\", record = \"both\", biz_step = \"arriveing\"",
    ));
    assert!(m.contains("did you mean arriving"), "{m}");
    let (_, m) = err(&with_io("").replace(
        "role = \"photo-eye\"",
        "role = \"photo-eye\", record = \"sometimes\"",
    ));
    assert!(m.contains("sometimes"), "{m}");
}

#[test]
fn an_input_line_can_record_its_edges() {
    let c = parse(&with_io("").replace(
        "role = \"photo-eye\"",
        "role = \"photo-eye\", record = \"active\", biz_step = \"arriving\"",
    ))
    .unwrap();
    let eye = c.devices.iter().find(|d| &*d.id == "eye").unwrap();
    let line = &eye.capabilities.input_lines[0];
    assert!(line.record.records(true) && !line.record.records(false));
    assert_eq!(line.biz_step.as_deref(), Some("arriving"));
}

#[test]
fn feedback_rule_errors_name_the_rule_and_what_to_do() {
    let rule = |body: &str| with_io(&format!("[[feedback]]\n{body}\n"));
    for (body, needle) in [
        (
            "on = \"rejected\"\noutput = \"light\"\nline = \"green\"\npattern = \"on\"",
            "has no line \"green\"; its lines: red, buzzer",
        ),
        (
            "on = \"rejected\"\noutput = \"eye\"\nline = \"red\"\npattern = \"on\"",
            "device \"eye\" has no output lines",
        ),
        (
            "on = \"captured\"\noutput = \"light\"\nline = \"red\"\npattern = \"on\"",
            "never ends; for an event give a pulse",
        ),
        (
            "on = \"captured\"\noutput = \"light\"\nline = \"red\"\npattern = \"strobe\"",
            "not an output pattern",
        ),
        (
            "on = \"printer-fault\"\noutput = \"light\"\nline = \"red\"\npattern = \"on\"",
            "no label printer for printer-fault",
        ),
        (
            "on = \"offline-too-long\"\noutput = \"light\"\nline = \"red\"\npattern = \"on\"",
            "give after_s",
        ),
        (
            "on = \"rejected\"\ndevices = [\"nope\"]\noutput = \"light\"\nline = \"red\"\npattern = \"pulse 1s\"",
            "devices: \"nope\" is not a device",
        ),
    ] {
        let (_, m) = err(&rule(body));
        assert!(
            m.contains("feedback rule 1") && m.contains(needle),
            "{body}: {m}"
        );
    }
    // Two conditions that can hold at once fight over a line at one priority.
    let (_, m) = err(&with_io(
        "[[feedback]]\non = \"device-down\"\noutput = \"light\"\nline = \"red\"\npattern = \"on\"\npriority = 40\n\
         [[feedback]]\non = \"offline-too-long\"\nafter_s = 60\noutput = \"light\"\nline = \"red\"\npattern = \"blink 500ms\"\npriority = 40\n",
    ));
    assert!(
        m.contains("feedback rule 2")
            && m.contains("rule 1 (device-down) also drives light.red at priority 40"),
        "{m}"
    );
}

#[test]
fn failover_hosts_follow_the_first_node_in_order() {
    let c = parse(&MINIMAL.replace(
        "host = \"127.0.0.1\"",
        "host = \"nats-1\"\nport = 1884\nfailover_hosts = [\"nats-2\", \"nats-3:1999\", \"[fd00::3]\", \"[fd00::4]:8883\"]",
    ))
    .unwrap();
    let nodes: Vec<String> = c
        .mqtt
        .as_ref()
        .unwrap()
        .nodes()
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(
        nodes,
        [
            "nats-1:1884",
            "nats-2:1884",
            "nats-3:1999",
            "[fd00::3]:1884",
            "[fd00::4]:8883"
        ]
    );
    assert_eq!(
        parse(MINIMAL).unwrap().mqtt.unwrap().nodes_text(),
        "127.0.0.1:1883",
        "one node without the key"
    );
}

#[test]
fn a_bad_failover_host_is_refused_with_its_line() {
    for (entry, why) in [
        ("\"nats-2:0\"", "port must be 1 to 65535"),
        ("\"nats-2:x\"", "port must be 1 to 65535"),
        ("\"fd00::3\"", "IPv6 address in brackets"),
        ("\"[fd00::3\"", "closing `]`"),
        ("\"\"", "not a host name"),
        ("\"127.0.0.1:1883\"", "listed twice"),
    ] {
        let (line, msg) = err(&MINIMAL.replace(
            "host = \"127.0.0.1\"",
            &format!("host = \"127.0.0.1\"\nfailover_hosts = [{entry}]"),
        ));
        assert!(msg.contains(why), "{entry}: {msg}");
        if !why.contains("twice") {
            assert_eq!(line, 10, "{entry}: {msg}");
        }
    }
}

/// Every key the config accepts — each section's, each device kind's, the nested tables' —
/// is named in docs/ (in backticks, as the key tables write them), so a key added to a struct
/// without a line in the documentation fails here.
#[test]
fn every_config_key_is_documented() {
    use super::fields::field_names;
    let docs_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    let mut docs = String::new();
    for entry in std::fs::read_dir(&docs_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "md") {
            docs.push_str(&std::fs::read_to_string(path).unwrap());
        }
    }
    let mut keys: Vec<(String, &'static str)> = Vec::new();
    let mut add = |owner: &str, names: &'static [&'static str]| {
        assert!(!names.is_empty(), "{owner}: no field names read");
        keys.extend(names.iter().map(|n| (owner.to_string(), *n)));
    };
    add("the file", field_names::<RawConfig>());
    add("[gateway]", field_names::<GatewayConfig>());
    add("[location]", field_names::<LocationConfig>());
    add("[store]", field_names::<StoreConfig>());
    add("[mqtt]", field_names::<RawMqtt>());
    add("[mqtt.tls]", field_names::<RawTls>());
    add("[epcis]", field_names::<super::epcis::RawEpcis>());
    add("[epcis] header", field_names::<super::epcis::RawHeader>());
    add("[identifiers]", field_names::<IdentifiersConfig>());
    add("[clock]", field_names::<ClockConfig>());
    add("[metrics]", field_names::<super::metrics::RawMetrics>());
    add("[web]", field_names::<super::web::RawWeb>());
    add("[printing]", field_names::<RawPrinting>());
    add("[integrity]", field_names::<RawIntegrity>());
    add("[[feedback]]", field_names::<super::feedback::RawRule>());
    add("capture keys", field_names::<CaptureSettings>());
    add(
        "business context keys",
        field_names::<tracegate_epcis::context::BizContext>(),
    );
    add("reader keys", field_names::<super::rfid::RfidKeys>());
    add("zones", field_names::<super::rfid::ZoneKeys>());
    add("direction", field_names::<super::rfid::DirectionKeys>());
    add(
        "gpio input lines",
        field_names::<super::gpio::InputLineConfig>(),
    );
    add(
        "gpio output lines",
        field_names::<crate::capture::devices::kinds::gpio_output::OutputLineConfig>(),
    );
    let registry = crate::capture::devices::builtin();
    for name in registry.names() {
        let kind = registry.get(name).unwrap();
        for section in kind.sections() {
            keys.extend(section.iter().map(|k| (format!("kind {name}"), *k)));
        }
    }
    // Documented: named in backticks (a key table), as a section (`[key]`, `[[key]]`,
    // `[mqtt.key]`), or set in an annotated TOML example (`key = …`, `# key = …`, or inline
    // `{ key = …`).
    let documented = |key: &str| {
        docs.contains(&format!("`{key}`"))
            || docs.contains(&format!("`{key} ="))
            || docs.contains(&format!("[{key}]"))
            || docs.contains(&format!(".{key}]"))
            || docs.contains(&format!("{{ {key} = "))
            || docs.contains(&format!(", {key} = "))
            || docs.lines().any(|line| {
                let line = line.trim_start().trim_start_matches('#').trim_start();
                line.strip_prefix(key)
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
            })
    };
    let missing: Vec<String> = keys
        .iter()
        .filter(|(_, key)| !documented(key))
        .map(|(owner, key)| format!("{owner}: `{key}`"))
        .collect();
    assert!(
        missing.is_empty(),
        "config keys not documented in docs/:\n{}",
        missing.join("\n")
    );
}
