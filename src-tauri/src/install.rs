//! What the Windows installer was told for this till. IT rolls the app out
//! with `msiexec /i SentraPOS.msi /qn SERVERURL=… RELAYURL=… BRANCH=…
//! TILLNAME=… PRINTER=… DATADIR=…`, which writes them under
//! `HKLM\Software\Sentra\Sentra POS\Install` (installer/SentraPOS.wxs), so
//! a till is set up without anyone typing a URL: the data dir is where IT
//! said, the setup screen starts filled in (only the one-time enrollment
//! code is typed), and the printer is set when the till is set up. Read
//! once at start; a value left empty is absent. Elsewhere than Windows
//! there is no installer, so none.

use std::path::PathBuf;

/// The installer's values (`docs/operations.md` §7).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct InstallSettings {
    pub server_url: Option<String>,
    pub relay_url: Option<String>,
    pub branch: Option<String>,
    pub till_name: Option<String>,
    pub printer: Option<String>,
    pub data_dir: Option<String>,
}

impl InstallSettings {
    /// From the values by their registry names (`ServerUrl`, …): trimmed;
    /// empty, over-long or control-character values are absent.
    pub fn from_values(get: impl Fn(&str) -> Option<String>) -> InstallSettings {
        let value = |name: &str| {
            get(name)
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty() && s.len() <= 1024 && !s.chars().any(char::is_control))
        };
        InstallSettings {
            server_url: value("ServerUrl"),
            relay_url: value("RelayUrl"),
            branch: value("Branch"),
            till_name: value("TillName"),
            printer: value("Printer"),
            data_dir: value("DataDir"),
        }
    }

    /// The installer's values on this machine.
    pub fn read() -> InstallSettings {
        #[cfg(windows)]
        {
            use winreg::RegKey;
            use winreg::enums::{HKEY_LOCAL_MACHINE, KEY_READ, KEY_WOW64_64KEY};
            match RegKey::predef(HKEY_LOCAL_MACHINE).open_subkey_with_flags(
                r"Software\Sentra\Sentra POS\Install",
                KEY_READ | KEY_WOW64_64KEY,
            ) {
                Ok(key) => {
                    InstallSettings::from_values(|name| key.get_value::<String, _>(name).ok())
                }
                Err(_) => InstallSettings::default(),
            }
        }
        #[cfg(not(windows))]
        {
            InstallSettings::from_values(|_| None)
        }
    }

    /// The data dir IT named, if it is a full path (a relative one would
    /// depend on where the app was started from, so it is ignored).
    pub fn data_dir(&self) -> Option<PathBuf> {
        self.data_dir
            .as_deref()
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_trimmed_and_empty_or_odd_ones_are_absent() {
        let s = InstallSettings::from_values(|name| match name {
            "ServerUrl" => Some("  https://sync.example.com ".into()),
            "RelayUrl" => Some(String::new()),
            "Branch" => Some("JKT01".into()),
            "TillName" => Some("T01\u{7}".into()),
            "Printer" => Some("x".repeat(2000)),
            _ => None,
        });
        assert_eq!(s.server_url.as_deref(), Some("https://sync.example.com"));
        assert_eq!(s.relay_url, None, "written empty by the installer");
        assert_eq!(s.branch.as_deref(), Some("JKT01"));
        assert_eq!(s.till_name, None, "a control character");
        assert_eq!(s.printer, None, "over-long");
        assert_eq!(s.data_dir, None);
    }

    #[test]
    fn only_a_full_data_dir_path_is_taken() {
        let with = |d: &str| {
            InstallSettings::from_values(|n| (n == "DataDir").then(|| d.to_owned())).data_dir()
        };
        let full = if cfg!(windows) {
            r"D:\Sentra\till"
        } else {
            "/srv/sentra/till"
        };
        assert_eq!(with(full), Some(PathBuf::from(full)));
        assert_eq!(with(r"till"), None);
    }
}
