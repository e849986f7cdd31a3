//! The cashier app's side of the terminal core: the session (sign-in, lock,
//! cart, parking, tender, voids and refunds with supervisor approval),
//! receipts and the print queue, first-run setup, the views the screens
//! show, and what the customer display shows. The desktop shell (`src-tauri`) only forwards calls here, so every
//! rule of the till lives in this crate and is tested without a window.

pub mod branch;
pub mod cart;
pub mod cashiers;
pub mod customer;
pub mod print_queue;
pub mod receipt;
pub mod session;
pub mod settings;
pub mod views;

use std::path::Path;

pub use session::PosSession;
pub use views::AppError;

use crate::error::{Result, TerminalError};
use crate::{InitOptions, Terminal};
use settings::SetupMode;

/// The catalog a trial till starts with, so there is something to sell.
const TRIAL_CATALOG: &[u8] = include_bytes!("../../../../demo/catalog.csv");

/// Whether `data_dir` holds a till already.
pub fn is_set_up(data_dir: &Path) -> bool {
    data_dir.join(crate::manifest::MANIFEST_FILE).exists()
}

/// First run, local-only trial: a till of branch `TRIAL` with one local
/// supervisor and the sample catalog. Nothing is sent anywhere.
pub fn setup_trial(
    data_dir: &Path,
    device_name: &str,
    supervisor: &str,
    pin: &str,
) -> Result<Terminal> {
    cashiers::check_pin_format(pin, "supervisor")?;
    let (mut terminal, _) = Terminal::init(
        data_dir,
        &InitOptions {
            branch: "TRIAL".into(),
            device_name: device_name.into(),
            ..InitOptions::default()
        },
    )?;
    cashiers::add_local(terminal.connection(), supervisor, "supervisor", pin)?;
    terminal.import_catalog_from("sample catalog", TRIAL_CATALOG)?;
    settings::set_mode(terminal.connection(), SetupMode::Trial)?;
    Ok(terminal)
}

/// First run, enrolled: create the till's identity for `branch`, then
/// enroll it with the cloud. If the enrollment fails the till stays set up
/// but `unenrolled`, and [`retry_enroll`] tries again.
pub async fn setup_enrolled(
    data_dir: &Path,
    branch: &str,
    device_name: &str,
    server: &str,
    code: &str,
    relay: Option<&str>,
) -> Result<Terminal> {
    // Check the URLs before anything is created.
    crate::sync::validate_url("server URL", server)?;
    if let Some(r) = relay {
        crate::sync::validate_url("relay URL", r)?;
    }
    let (terminal, _) = Terminal::init(
        data_dir,
        &InitOptions {
            branch: branch.into(),
            device_name: device_name.into(),
            ..InitOptions::default()
        },
    )?;
    settings::set_mode(terminal.connection(), SetupMode::Unenrolled)?;
    retry_enroll(terminal, server, code, relay).await
}

/// Enroll a till that was set up but not enrolled yet.
pub async fn retry_enroll(
    mut terminal: Terminal,
    server: &str,
    code: &str,
    relay: Option<&str>,
) -> Result<Terminal> {
    if settings::mode(terminal.connection())? == Some(SetupMode::Trial) {
        return Err(TerminalError::invalid(
            "enrollment",
            "a trial till cannot be enrolled; set up a new till for the branch",
        ));
    }
    terminal.enroll(server, code, relay, None).await?;
    settings::set_mode(terminal.connection(), SetupMode::Enrolled)?;
    Ok(terminal)
}

/// The setup mode of a till set up before this app (with `sentra-term`):
/// enrolled if it has a credential.
pub fn adopt(terminal: &Terminal) -> Result<()> {
    if settings::mode(terminal.connection())?.is_none() {
        let mode = if terminal.sync_status()?.enrolled {
            SetupMode::Enrolled
        } else {
            SetupMode::Unenrolled
        };
        settings::set_mode(terminal.connection(), mode)?;
    }
    Ok(())
}
