//! The till's own settings (printer, language, supervisor threshold,
//! customer display), kept in the encrypted store so they survive a
//! reinstall of the app but never travel to the cloud.

use rusqlite::{Connection, OptionalExtension, params};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{Result, TerminalError};

/// How this till was set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum SetupMode {
    /// Enrolled with the cloud: cashiers and prices come from head office.
    Enrolled,
    /// Initialised here but the enrollment has not gone through yet.
    Unenrolled,
    /// Local-only trial: a local supervisor, nothing leaves the machine.
    Trial,
}

/// Paper width of the receipt printer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Paper {
    Mm58,
    Mm80,
}

/// When the customer display (a customer-facing window, `customer.rs`)
/// opens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum CustomerDisplayMode {
    /// On a second monitor, whenever the till has one.
    #[default]
    Auto,
    /// Always: also with one monitor, as a window of its own.
    Always,
    /// Never (the second monitor is for something else).
    Off,
}

/// Everything the cashier app can change about itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PosSettings {
    /// `host:port` of an ESC/POS network printer (port 9100 usually);
    /// `None` = no printer, receipts are shown on screen only.
    pub printer: Option<String>,
    pub paper: Paper,
    /// `"id"` or `"en"`.
    pub language: String,
    /// A discount above this percentage of what it applies to needs a
    /// supervisor's PIN (decimal string, e.g. `"10"`).
    pub supervisor_discount_pct: String,
    /// Printed at the top of receipts.
    pub store_name: String,
    /// Printed at the bottom of receipts.
    pub receipt_footer: String,
    /// When the customer display opens (settings saved before it existed
    /// read as `auto`).
    #[serde(default)]
    pub customer_display: CustomerDisplayMode,
}

impl Default for PosSettings {
    fn default() -> Self {
        PosSettings {
            printer: None,
            paper: Paper::Mm58,
            language: "id".into(),
            supervisor_discount_pct: "10".into(),
            store_name: "Sentra".into(),
            receipt_footer: "Terima kasih / Thank you".into(),
            customer_display: CustomerDisplayMode::Auto,
        }
    }
}

impl PosSettings {
    /// Reject what the till could not work with, naming the field.
    pub fn validate(&self) -> Result<()> {
        if let Some(addr) = &self.printer {
            validate_printer_address(addr)?;
        }
        if !matches!(self.language.as_str(), "id" | "en") {
            return Err(TerminalError::invalid(
                "language",
                format!("{:?} is not one of id, en", self.language),
            ));
        }
        let pct = self.threshold()?;
        if pct < Decimal::ZERO || pct > Decimal::ONE_HUNDRED {
            return Err(TerminalError::invalid(
                "supervisor discount threshold",
                format!("{pct}% is not between 0 and 100"),
            ));
        }
        if self.store_name.chars().count() > 40 || self.receipt_footer.chars().count() > 120 {
            return Err(TerminalError::invalid(
                "receipt text",
                "the store name is at most 40 characters and the footer at most 120",
            ));
        }
        Ok(())
    }

    /// The supervisor threshold as a decimal percentage.
    pub fn threshold(&self) -> Result<Decimal> {
        self.supervisor_discount_pct
            .trim()
            .parse::<Decimal>()
            .map_err(|_| {
                TerminalError::invalid(
                    "supervisor discount threshold",
                    format!("{:?} is not a number", self.supervisor_discount_pct),
                )
            })
    }
}

/// `host:port`, with a port in 1..=65535.
pub fn validate_printer_address(addr: &str) -> Result<()> {
    let bad =
        |detail: &str| TerminalError::invalid("printer address", format!("{addr:?} {detail}"));
    let (host, port) = addr
        .trim()
        .rsplit_once(':')
        .ok_or_else(|| bad("must be host:port, e.g. 192.168.1.50:9100"))?;
    if host.is_empty() || host.chars().any(char::is_whitespace) {
        return Err(bad("has no host"));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(()),
        _ => Err(bad("has no valid port (1 to 65535)")),
    }
}

pub fn get(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT value FROM app_settings WHERE key = ?1",
            [key],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn put(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO app_settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// The stored settings, defaults for anything never set.
pub fn load(conn: &Connection) -> Result<PosSettings> {
    match get(conn, "pos_settings")? {
        None => Ok(PosSettings::default()),
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| TerminalError::invalid("stored settings", format!("cannot be read: {e}"))),
    }
}

pub fn save(conn: &Connection, settings: &PosSettings) -> Result<()> {
    settings.validate()?;
    let json = serde_json::to_string(settings)
        .map_err(|e| TerminalError::invalid("settings", e.to_string()))?;
    put(conn, "pos_settings", &json)
}

pub fn mode(conn: &Connection) -> Result<Option<SetupMode>> {
    Ok(match get(conn, "setup_mode")?.as_deref() {
        Some("trial") => Some(SetupMode::Trial),
        Some("enrolled") => Some(SetupMode::Enrolled),
        Some("unenrolled") => Some(SetupMode::Unenrolled),
        _ => None,
    })
}

pub fn set_mode(conn: &Connection, mode: SetupMode) -> Result<()> {
    let text = match mode {
        SetupMode::Trial => "trial",
        SetupMode::Enrolled => "enrolled",
        SetupMode::Unenrolled => "unenrolled",
    };
    put(conn, "setup_mode", text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printer_addresses_need_host_and_port() {
        for ok in ["127.0.0.1:9100", "printer.local:9100", "[::1]:9100"] {
            assert!(validate_printer_address(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "10.0.0.5",
            ":9100",
            "10.0.0.5:0",
            "10.0.0.5:99999",
            "a b:9100",
        ] {
            assert!(validate_printer_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn settings_are_validated() {
        let mut s = PosSettings::default();
        assert!(s.validate().is_ok());
        s.language = "fr".into();
        assert!(s.validate().is_err());
        s.language = "en".into();
        s.supervisor_discount_pct = "150".into();
        assert!(s.validate().is_err());
        s.supervisor_discount_pct = "ten".into();
        assert!(s.validate().is_err());
    }
}
