//! Where the key lives, and how `init` picks that place.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::KeyError;
use crate::error::show;

/// The service name every Sentra key is filed under in a credential store.
pub const SERVICE: &str = "sentra-pos";

/// Which kind of store holds the key.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStoreKind {
    /// The platform's persistent credential store: Windows Credential Manager,
    /// macOS Keychain, or the Secret Service (GNOME Keyring, KWallet) on Linux.
    Os,
    /// Linux kernel keyutils, session keyring. **Volatile**: gone at logout or
    /// reboot. For tests and short-lived sessions only.
    Keyutils,
    /// Explicit fallback for a headless box: the key as 64 hex characters in a
    /// file created with mode 0600 (on Unix).
    File,
}

impl std::fmt::Display for KeyStoreKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyStoreKind::Os => "os",
            KeyStoreKind::Keyutils => "keyutils",
            KeyStoreKind::File => "file",
        })
    }
}

impl std::str::FromStr for KeyStoreKind {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "os" => Ok(KeyStoreKind::Os),
            "keyutils" => Ok(KeyStoreKind::Keyutils),
            "file" => Ok(KeyStoreKind::File),
            other => Err(KeyError::Unavailable(format!(
                "unknown key store {other:?}; expected one of: os, keyutils, file"
            ))),
        }
    }
}

/// Where one install's key is. Not secret: recorded in the terminal's plaintext
/// manifest so that `open` knows where to look.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyLocation {
    pub kind: KeyStoreKind,
    /// Always [`SERVICE`] for keys made by this crate.
    pub service: String,
    /// Per-install id chosen by the caller, e.g. `db-key:<install uuid>`.
    pub account: String,
    /// The key file, for [`KeyStoreKind::File`] only.
    pub file: Option<PathBuf>,
}

/// The outcome of [`choose`]: where to keep the key, and a warning `init` must
/// print when that place is weaker than an OS keyring.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreChoice {
    pub location: KeyLocation,
    pub warning: Option<String>,
}

/// Picks where a new install keeps its key.
///
/// * `requested = None` (auto): the OS keyring on Windows and macOS; on Linux the
///   Secret Service if one answers on the session D-Bus within
///   [`crate::PROBE_TIMEOUT`], otherwise a key file (at `key_file`, or the
///   [`default_key_file`]) with a loud warning.
/// * `Some(Os)`: the OS keyring, or [`KeyError::Unavailable`] if there is none.
/// * `Some(Keyutils)`: Linux only; comes with a warning that it is volatile.
/// * `Some(File)`: `key_file`, or the default path with a warning.
///
/// The caller must reject a `key_file` inside its data directory unless the
/// user explicitly asked for that; see [`is_within`].
pub fn choose(
    requested: Option<KeyStoreKind>,
    key_file: Option<PathBuf>,
    account: &str,
) -> Result<StoreChoice, KeyError> {
    validate_account(account)?;
    let location = |kind, file| KeyLocation {
        kind,
        service: SERVICE.to_owned(),
        account: account.to_owned(),
        file,
    };
    match requested {
        Some(KeyStoreKind::Os) => {
            crate::os_store::probe()?;
            Ok(StoreChoice {
                location: location(KeyStoreKind::Os, None),
                warning: None,
            })
        }
        Some(KeyStoreKind::Keyutils) => {
            crate::os_store::keyutils_supported()?;
            Ok(StoreChoice {
                location: location(KeyStoreKind::Keyutils, None),
                warning: Some(keyutils_warning()),
            })
        }
        Some(KeyStoreKind::File) => {
            let explicit = key_file.is_some();
            let path = file_path(key_file, account)?;
            let warning = (!explicit).then(|| file_warning(&path, None));
            Ok(StoreChoice {
                location: location(KeyStoreKind::File, Some(path)),
                warning,
            })
        }
        None => match crate::os_store::probe() {
            Ok(()) => Ok(StoreChoice {
                location: location(KeyStoreKind::Os, None),
                warning: None,
            }),
            Err(why) => {
                let reason = match why {
                    KeyError::Unavailable(reason) => reason,
                    other => other.to_string(),
                };
                let path = file_path(key_file, account)?;
                let warning = Some(file_warning(&path, Some(&reason)));
                Ok(StoreChoice {
                    location: location(KeyStoreKind::File, Some(path)),
                    warning,
                })
            }
        },
    }
}

/// The key file used when none is given:
/// `$XDG_CONFIG_HOME/sentra-pos/keys/<account>.key` (else `~/.config/…`), or
/// `%APPDATA%\sentra-pos\keys\<account>.key` on Windows. Characters of the
/// account outside `[A-Za-z0-9._-]` become `_`.
pub fn default_key_file(account: &str) -> Result<PathBuf, KeyError> {
    validate_account(account)?;
    let base = config_dir().ok_or_else(|| {
        KeyError::Unavailable(
            "cannot find a configuration directory for the key file (neither \
             XDG_CONFIG_HOME, HOME nor APPDATA is set); pass an explicit key file path"
                .to_owned(),
        )
    })?;
    Ok(base
        .join("sentra-pos")
        .join("keys")
        .join(format!("{}.key", safe_file_name(account))))
}

/// True when `path` is `dir` or lies inside it (compared after resolving what
/// exists of both). The terminal uses it to refuse a key file in its data dir.
pub fn is_within(path: &std::path::Path, dir: &std::path::Path) -> bool {
    let resolve = |p: &std::path::Path| -> PathBuf {
        // Resolve the longest existing ancestor, then re-append the rest.
        let mut existing = p.to_path_buf();
        let mut rest = Vec::new();
        while !existing.exists() {
            match (existing.file_name(), existing.parent()) {
                (Some(name), Some(parent)) => {
                    rest.push(name.to_owned());
                    existing = parent.to_path_buf();
                }
                _ => break,
            }
        }
        let mut out = existing.canonicalize().unwrap_or(existing);
        for name in rest.iter().rev() {
            out.push(name);
        }
        out
    };
    resolve(path).starts_with(resolve(dir))
}

fn file_path(key_file: Option<PathBuf>, account: &str) -> Result<PathBuf, KeyError> {
    match key_file {
        Some(path) => Ok(path),
        None => default_key_file(account),
    }
}

fn config_dir() -> Option<PathBuf> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if cfg!(windows) {
        return non_empty("APPDATA").map(PathBuf::from);
    }
    if let Some(dir) = non_empty("XDG_CONFIG_HOME").map(PathBuf::from)
        && dir.is_absolute()
    {
        return Some(dir);
    }
    non_empty("HOME").map(|home| PathBuf::from(home).join(".config"))
}

fn safe_file_name(account: &str) -> String {
    account
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn validate_account(account: &str) -> Result<(), KeyError> {
    if account.is_empty() || account.contains('\0') || account.starts_with('.') {
        return Err(KeyError::Unavailable(format!(
            "invalid key account name {account:?}: it must be non-empty, must not start \
             with '.', and must not contain NUL"
        )));
    }
    Ok(())
}

fn keyutils_warning() -> String {
    "WARNING: the database key is kept in the Linux kernel session keyring (keyutils).\n\
     That store is VOLATILE: the key disappears at logout or reboot, and with it every\n\
     way to open this database. Use it only for tests and short-lived sessions.\n\
     Back the key up now, or re-initialise with the OS keyring or a key file."
        .to_owned()
}

fn file_warning(path: &std::path::Path, no_keyring_reason: Option<&str>) -> String {
    let mut text = String::new();
    text.push_str("WARNING: the database key is NOT in an OS keyring.\n");
    if let Some(reason) = no_keyring_reason {
        text.push_str(&format!("  No usable OS keyring was found ({reason}).\n"));
    }
    text.push_str(&format!(
        "  The key is stored in plain hex in the file {}\n",
        show(path)
    ));
    if cfg!(unix) {
        text.push_str(
            "  The file has mode 0600: this user and root can read it, and so can anyone\n  \
             who gets a copy of this disk or its backups.\n",
        );
    } else {
        text.push_str(
            "  Anyone who can read that file (this user, administrators, backups) can\n  \
             decrypt the database.\n",
        );
    }
    text.push_str(
        "  To do better, either:\n  \
         - run under a desktop session with an unlocked keyring (GNOME Keyring or\n    \
         KWallet) and initialise again, or\n  \
         - provide the key through systemd credentials (LoadCredentialEncrypted=), or\n    \
         with --key-file on a protected path (an encrypted volume, never inside the\n    \
         data directory).\n  \
         Back this key up separately from the database: without it the data is lost.",
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_names() {
        assert_eq!(safe_file_name("db-key:0190-ab"), "db-key_0190-ab");
        assert_eq!(safe_file_name("a/../b"), "a_.._b");
    }

    #[test]
    fn kind_serde_is_snake_case() {
        assert_eq!(
            serde_json::to_string(&KeyStoreKind::Keyutils).expect("json"),
            "\"keyutils\""
        );
        assert_eq!(KeyStoreKind::Os.to_string(), "os");
        assert_eq!(
            "file".parse::<KeyStoreKind>().ok(),
            Some(KeyStoreKind::File)
        );
    }

    #[test]
    fn within() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(is_within(&dir.path().join("x/y.key"), dir.path()));
        assert!(is_within(&dir.path().join("a/../b.key"), dir.path()));
        assert!(!is_within(
            std::path::Path::new("/elsewhere/k.key"),
            dir.path()
        ));
    }
}
