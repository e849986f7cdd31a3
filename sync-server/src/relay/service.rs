//! The relay as a Windows service (`sentra-sync relay --windows-service`),
//! as the relay's `.msi` installs it (installer/SentraRelay.wxs,
//! docs/operations.md §8).
//!
//! The installer writes the relay's settings under [`SETTINGS_KEY`]; the
//! service's command line is only `relay --windows-service`, and each start
//! reads them from there ([`with_settings`]). So IT changes a setting with
//! `reg add` and a restart, or by running the installer again, and no value
//! ever needs quoting on a command line.
//!
//! Under the service manager the relay logs to `<data dir>\logs\` (one file
//! a day, two weeks kept), as there is no console. When it fails it ends
//! its process without reporting "stopped": Windows counts that as a crash
//! and applies the restart actions the installer set (`sc failure`).

use std::ffi::OsString;

/// The service's name, as `sc` and the installer know it.
pub const SERVICE_NAME: &str = "SentraRelay";

/// Where the installer keeps the relay's settings (HKLM, 64-bit view).
pub const SETTINGS_KEY: &str = r"Software\Sentra\Sentra POS Relay";

/// The registry values the installer writes, and the flags they stand for.
pub const SETTINGS: [(&str, &str); 4] = [
    ("Upstream", "--upstream"),
    ("Listen", "--listen"),
    ("DataDir", "--data-dir"),
    ("EnrollCode", "--enroll-code"),
];

/// The command line with the installer's settings added as flags. A flag
/// already on the command line wins; a value that is missing, empty, over
/// 1 KiB or holds a control character is left out (so a used or never-given
/// enrollment code is simply absent, and clap says what is missing).
pub fn with_settings(args: Vec<OsString>, get: impl Fn(&str) -> Option<String>) -> Vec<OsString> {
    let mut out = args;
    for (name, flag) in SETTINGS {
        let given = out.iter().any(|a| {
            a.to_str()
                .is_some_and(|a| a == flag || a.starts_with(&format!("{flag}=")))
        });
        if given {
            continue;
        }
        let Some(value) = get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty() && v.len() <= 1024 && !v.chars().any(char::is_control))
        else {
            continue;
        };
        // `--flag=value`, so a value starting with `-` stays a value.
        out.push(format!("{flag}={value}").into());
    }
    out
}

/// The installer's settings on this machine (none where it is not Windows).
pub fn registry_settings() -> impl Fn(&str) -> Option<String> {
    #[cfg(windows)]
    {
        use winreg::RegKey;
        use winreg::enums::{HKEY_LOCAL_MACHINE, KEY_READ, KEY_WOW64_64KEY};
        let key = RegKey::predef(HKEY_LOCAL_MACHINE)
            .open_subkey_with_flags(SETTINGS_KEY, KEY_READ | KEY_WOW64_64KEY)
            .ok();
        move |name: &str| key.as_ref()?.get_value::<String, _>(name).ok()
    }
    #[cfg(not(windows))]
    {
        |_: &str| None
    }
}

#[cfg(windows)]
pub use scm::run;

#[cfg(windows)]
mod scm {
    use std::process::ExitCode;
    use std::sync::Mutex;
    use std::time::Duration;

    use windows_service::service::{
        ServiceControl, ServiceControlAccept, ServiceExitCode, ServiceState, ServiceStatus,
        ServiceType,
    };
    use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
    use windows_service::service_dispatcher;

    use super::SERVICE_NAME;
    use crate::relay::RelayConfig;

    /// The relay's settings, handed from `run` to the service's thread
    /// (the service manager calls `service_main` with no context).
    static CONFIG: Mutex<Option<RelayConfig>> = Mutex::new(None);

    /// Hands the process to the service manager and returns when the
    /// service has stopped. Only a process the service manager started can
    /// do this; anything else gets a clear error.
    pub fn run(config: RelayConfig) -> ExitCode {
        if let Ok(mut slot) = CONFIG.lock() {
            *slot = Some(config);
        }
        match service_dispatcher::start(SERVICE_NAME, service_main) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!(
                    "sentra-sync: --windows-service is for the Windows service manager \
                     (start it with `sc start {SERVICE_NAME}`); to run the relay in a \
                     console, leave the flag out: {e}"
                );
                ExitCode::FAILURE
            }
        }
    }

    // The dispatcher's arguments are unused: the settings came from the
    // command line and the registry. (Parsing them would need `unsafe`.)
    extern "system" fn service_main(_argc: u32, _argv: *mut *mut u16) {
        let config = CONFIG.lock().ok().and_then(|mut c| c.take());
        let Some(config) = config else {
            std::process::exit(1);
        };
        let _log = init_file_logging(&config.data_dir);
        if let Err(e) = serve(config) {
            tracing::error!(error = %format!("{e:#}"), "the relay service failed; Windows restarts it");
            // No "stopped" report: Windows counts this as a crash and runs
            // the installer's restart actions.
            std::process::exit(1);
        }
    }

    fn status(state: ServiceState, accept: ServiceControlAccept, wait: Duration) -> ServiceStatus {
        ServiceStatus {
            service_type: ServiceType::OWN_PROCESS,
            current_state: state,
            controls_accepted: accept,
            exit_code: ServiceExitCode::Win32(0),
            checkpoint: 0,
            wait_hint: wait,
            process_id: None,
        }
    }

    fn serve(config: RelayConfig) -> anyhow::Result<()> {
        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
        let handle =
            service_control_handler::register(SERVICE_NAME, move |control| match control {
                ServiceControl::Stop | ServiceControl::Shutdown | ServiceControl::Preshutdown => {
                    stop_tx.send_replace(true);
                    ServiceControlHandlerResult::NoError
                }
                ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
                _ => ServiceControlHandlerResult::NotImplemented,
            })?;
        handle.set_service_status(status(
            ServiceState::StartPending,
            ServiceControlAccept::empty(),
            Duration::from_secs(60),
        ))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            let running = crate::relay::start(&config).await?;
            tracing::info!(addr = %running.addr, branch = %running.relay.branch, "sentra-sync relay service running");
            handle.set_service_status(status(
                ServiceState::Running,
                ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN,
                Duration::ZERO,
            ))?;
            // Stop, shutdown, or the control handler gone: finish in-flight
            // pushes (a commit is durable when it returns) and stop.
            let _ = stop_rx.wait_for(|stop| *stop).await;
            tracing::info!("stopping: finishing in-flight requests");
            handle.set_service_status(status(
                ServiceState::StopPending,
                ServiceControlAccept::empty(),
                Duration::from_secs(30),
            ))?;
            running.stop().await?;
            anyhow::Ok(())
        })?;
        tracing::info!("stopped");
        handle.set_service_status(status(
            ServiceState::Stopped,
            ServiceControlAccept::empty(),
            Duration::ZERO,
        ))?;
        Ok(())
    }

    /// JSON logs in `<data dir>\logs\relay.YYYY-MM-DD.log`, 14 days kept.
    fn init_file_logging(data_dir: &std::path::Path) -> Option<()> {
        let appender = tracing_appender::rolling::Builder::new()
            .rotation(tracing_appender::rolling::Rotation::DAILY)
            .filename_prefix("relay")
            .filename_suffix("log")
            .max_log_files(14)
            .build(data_dir.join("logs"))
            .ok()?;
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(appender)
            .with_ansi(false)
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init()
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    fn settings(name: &str) -> Option<String> {
        match name {
            "Upstream" => Some("https://sync.example.com".into()),
            "Listen" => Some(" 0.0.0.0:8090 ".into()),
            "DataDir" => Some(r"C:\ProgramData\Sentra\Relay".into()),
            "EnrollCode" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn the_installer_s_settings_become_flags_and_empty_ones_are_absent() {
        let out = with_settings(
            args(&["sentra-sync", "relay", "--windows-service"]),
            settings,
        );
        assert_eq!(
            out,
            args(&[
                "sentra-sync",
                "relay",
                "--windows-service",
                "--upstream=https://sync.example.com",
                "--listen=0.0.0.0:8090",
                r"--data-dir=C:\ProgramData\Sentra\Relay",
            ])
        );
    }

    #[test]
    fn a_flag_on_the_command_line_wins_over_the_registry() {
        let out = with_settings(
            args(&[
                "sentra-sync",
                "relay",
                "--windows-service",
                "--listen",
                "127.0.0.1:9000",
                "--data-dir=D:\\relay",
            ]),
            settings,
        );
        assert_eq!(
            out.iter()
                .filter(|a| a.to_string_lossy().starts_with("--listen"))
                .count(),
            1
        );
        assert_eq!(
            out.iter()
                .filter(|a| a.to_string_lossy().starts_with("--data-dir"))
                .count(),
            1
        );
        assert!(out.contains(&OsString::from("--upstream=https://sync.example.com")));
    }

    #[test]
    fn values_with_control_characters_or_too_long_are_left_out() {
        let out = with_settings(args(&["x"]), |name| match name {
            "Upstream" => Some("https://a\n--listen=evil".into()),
            "DataDir" => Some("d".repeat(2000)),
            _ => None,
        });
        assert_eq!(out, args(&["x"]));
    }
}
