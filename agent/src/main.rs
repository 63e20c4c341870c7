//! The `tracegate` binary: parse the command line, run the subcommand, map failures to exit
//! codes (0 ok, 1 runtime failure, 2 bad config or usage).

use std::process::ExitCode;

use clap::Parser;
use tokio_util::sync::CancellationToken;
#[cfg(feature = "sim")]
use tracegate::cli::SimCommand;
use tracegate::cli::{self, Cli, Command, EXIT_USAGE, EpcisCommand, EventsCommand};
use tracegate::config::Config;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { file } => {
            match Config::load(&file, &tracegate::capture::devices::builtin()) {
                Ok(config) => {
                    println!(
                        "{}: ok (gateway {}, {} device{}, {})",
                        file.display(),
                        config.gateway.id,
                        config.devices.len(),
                        if config.devices.len() == 1 { "" } else { "s" },
                        uplinks_text(&config)
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => config_error(e),
            }
        }
        Command::Run { config } => {
            let config = match Config::load(&config.config, &tracegate::capture::devices::builtin())
            {
                Ok(c) => c,
                Err(e) => return config_error(e),
            };
            tracegate::ops::memory::tune_allocator();
            tracegate::ops::logging::init();
            runtime(async move {
                let shutdown = CancellationToken::new();
                tokio::spawn(stop_on_signal(shutdown.clone()));
                tracegate::runtime::run(config, shutdown).await
            })
        }
        Command::OutputsSafe { config } => {
            let config = match Config::load_for_tools(
                &config.config,
                &tracegate::capture::devices::builtin(),
            ) {
                Ok(c) => c,
                Err(e) => return config_error(e),
            };
            let mut failed = false;
            for device in &config.devices {
                let Some(safe) = &device.capabilities.safe_state else {
                    continue;
                };
                match safe.drive_safe() {
                    Ok(()) => println!("{}: every line inactive", device.id),
                    Err(e) => {
                        eprintln!("{}: {e}", device.id);
                        failed = true;
                    }
                }
            }
            if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Command::Status { config, json } => {
            let config = match Config::load_for_tools(
                &config.config,
                &tracegate::capture::devices::builtin(),
            ) {
                Ok(c) => c,
                Err(e) => return config_error(e),
            };
            runtime(async move {
                let report = cli::status::collect(&config).await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&report)?);
                } else {
                    print!("{}", cli::status::render(&report));
                }
                Ok(())
            })
        }
        Command::Cmd(args) => {
            let socket = match Config::control_socket_of(
                &args.config.config,
                &tracegate::capture::devices::builtin(),
            ) {
                Ok(socket) => socket,
                Err(e) => return config_error(e),
            };
            let object = match cli::cmd::arguments(&args.name, &args.args) {
                Ok(object) => object,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(EXIT_USAGE);
                }
            };
            runtime(async move {
                let request =
                    serde_json::json!({"cmd": "command", "name": args.name, "args": object});
                control_command(&socket, &request, COMMAND_WAIT).await
            })
        }
        Command::Print(args) => {
            if let Some(out) = &args.preview {
                return report_line(cli::print::write_preview(&args.config.config, &args, out));
            }
            let socket = match Config::control_socket_of(
                &args.config.config,
                &tracegate::capture::devices::builtin(),
            ) {
                Ok(socket) => socket,
                Err(e) => return config_error(e),
            };
            let request = match cli::print::command(&args) {
                Ok(request) => request,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(EXIT_USAGE);
                }
            };
            runtime(async move { control_command(&socket, &request, COMMAND_WAIT).await })
        }
        Command::Export(args) => report_line(cli::integrity::export(&args)),
        Command::Import(args) => {
            let socket = match Config::control_socket_of(
                &args.config.config,
                &tracegate::capture::devices::builtin(),
            ) {
                Ok(socket) => socket,
                Err(e) => return config_error(e),
            };
            let request = match cli::integrity::import_request(&args) {
                Ok(request) => request,
                Err(e) => return report(Err(e)),
            };
            // An import verifies and stores a whole export before it answers.
            let wait = std::time::Duration::from_secs(3600);
            runtime(async move { control_command(&socket, &request, wait).await })
        }
        Command::Verify(args) => match cli::integrity::verify(&args) {
            Ok(verdict) => {
                if args.json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&verdict).unwrap_or_default()
                    );
                } else {
                    print!("{}", cli::integrity::render(&verdict));
                }
                if verdict.problems.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(EXIT_USAGE)
            }
        },
        Command::Events {
            command: EventsCommand::Tail(args),
        } => {
            let path = match outbox_path(args.db.as_ref(), &args.config) {
                Ok(path) => path,
                Err(e) => return config_error(e),
            };
            report(cli::events::tail(&path, &args))
        }
        Command::Events {
            command: EventsCommand::Export(args),
        } => {
            let path = match outbox_path(args.db.as_ref(), &args.config) {
                Ok(path) => path,
                Err(e) => return config_error(e),
            };
            let out = std::io::stdout().lock();
            match cli::events::export(&path, &args, out) {
                Ok(n) => {
                    eprintln!("exported {n} events");
                    ExitCode::SUCCESS
                }
                Err(e) => report(Err(e)),
            }
        }
        Command::Events {
            command: EventsCommand::SetAside(args),
        } => {
            let path = match outbox_path(args.db.as_ref(), &args.config) {
                Ok(path) => path,
                Err(e) => return config_error(e),
            };
            match cli::events::set_aside(&path, std::io::stdout().lock()) {
                Ok(n) => {
                    eprintln!("{n} events set aside");
                    ExitCode::SUCCESS
                }
                Err(e) => report(Err(e)),
            }
        }
        Command::Decode(args) => {
            let stdin = std::io::stdin();
            report(
                cli::decode::run(&args, stdin.lock(), std::io::stdout().lock()).map_err(Into::into),
            )
        }
        Command::Epcis {
            command: EpcisCommand::Hash(args),
        } => {
            let stdin = std::io::stdin();
            report(cli::epcis::hash(
                &args,
                stdin.lock(),
                std::io::stdout().lock(),
            ))
        }
        #[cfg(feature = "sim")]
        Command::Sim {
            command: SimCommand::Scanner(args),
        } => runtime(async move {
            let cancel = CancellationToken::new();
            tokio::spawn(stop_on_signal(cancel.clone()));
            let sent = cli::sim::scanner(&args, cancel).await?;
            eprintln!("sent {sent} scans");
            Ok(())
        }),
        #[cfg(feature = "sim")]
        Command::Sim {
            command: SimCommand::LlrpReader(args),
        } => runtime(async move {
            let cancel = CancellationToken::new();
            tokio::spawn(stop_on_signal(cancel.clone()));
            cli::sim::llrp_reader(&args, cancel).await
        }),
    }
}

/// The outbox a read-only tool opens: `--db` if given, else the config's `[store] path`
/// (loaded without secrets).
fn outbox_path(
    db: Option<&std::path::PathBuf>,
    config: &std::path::Path,
) -> Result<std::path::PathBuf, tracegate::config::ConfigError> {
    match db {
        Some(db) => Ok(db.clone()),
        None => Config::load_for_tools(config, &tracegate::capture::devices::builtin())
            .map(|c| c.store.path),
    }
}

/// How long a command's final reply is waited for.
const COMMAND_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Sends a request through the control socket, waits up to `wait` for its answer and prints
/// it; an error when it failed (the answer's `error`, or `ok` not true).
async fn control_command(
    socket: &std::path::Path,
    request: &serde_json::Value,
    wait: std::time::Duration,
) -> anyhow::Result<()> {
    let reply = tracegate::commands::control::request_within(socket, request, wait)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "no daemon answered on {} ({e}); is tracegate running with this config?",
                socket.display()
            )
        })?;
    println!("{}", serde_json::to_string_pretty(&reply)?);
    if reply["ok"] == serde_json::Value::Bool(true) {
        Ok(())
    } else {
        Err(anyhow::anyhow!(
            "{}",
            reply["error"].as_str().unwrap_or("the command failed")
        ))
    }
}

/// What `check-config` says about where things go: `broker …`, `EPCIS repository …`, or both.
fn uplinks_text(config: &Config) -> String {
    match (&config.mqtt, &config.epcis) {
        (Some(mqtt), None) => format!("broker {}", mqtt.nodes_text()),
        (None, Some(epcis)) => format!("events to the EPCIS repository {}", epcis.capture_url()),
        (Some(mqtt), Some(epcis)) => format!(
            "events to the EPCIS repository {}, status and commands through broker {}",
            epcis.capture_url(),
            mqtt.nodes_text()
        ),
        (None, None) => String::new(),
    }
}

fn config_error(e: tracegate::config::ConfigError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(EXIT_USAGE)
}

/// Prints what a command did (one line) or its error.
fn report_line(result: anyhow::Result<String>) -> ExitCode {
    report(result.map(|line| println!("{line}")))
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime(future: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return report(Err(e.into())),
    };
    report(rt.block_on(future))
}

/// Cancels `token` on SIGTERM or SIGINT; a second signal exits at once.
async fn stop_on_signal(token: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    token.cancel();
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    eprintln!("second signal: exiting without a clean shutdown");
    std::process::exit(130);
}
