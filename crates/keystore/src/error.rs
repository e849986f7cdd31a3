//! Everything that can go wrong while keeping or fetching the key, each with a
//! message an operator can act on.

use crate::location::{KeyLocation, KeyStoreKind};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// No key at the recorded location. The database was not touched.
    #[error("{}", missing_message(.location))]
    Missing { location: KeyLocation },

    /// The requested store cannot be used here (no keyring service, wrong OS, …).
    #[error("key store unavailable: {0}")]
    Unavailable(String),

    /// A key is already stored there; it is never overwritten, because that could
    /// orphan the database it opens.
    #[error(
        "a database key already exists at {0}; refusing to overwrite it (the database it \
         opens would become unreadable). If it is truly unused, delete it explicitly first"
    )]
    AlreadyExists(String),

    /// The stored value is not a 256-bit key written as 64 hex characters.
    #[error("the stored database key is malformed: {0}")]
    Malformed(String),

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    /// The platform credential store failed (locked, D-Bus error, access denied, …).
    #[error("credential store error: {0}")]
    Platform(String),
}

impl KeyError {
    /// Worth retrying later without operator action (a store that may come up,
    /// a transient platform error)? Everything else needs a person.
    pub fn is_retryable(&self) -> bool {
        matches!(self, KeyError::Unavailable(_) | KeyError::Platform(_))
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> KeyError {
        KeyError::Io {
            context: context.into(),
            source,
        }
    }
}

fn missing_message(location: &KeyLocation) -> String {
    let place = describe(location);
    let hint = match location.kind {
        KeyStoreKind::Os => {
            "Check that you are logged in as the same user, in a session whose keyring is \
             unlocked (on Linux: a desktop session or a running Secret Service), or restore \
             the key from your backup"
        }
        KeyStoreKind::Keyutils => {
            "The kernel session keyring is volatile: its keys vanish at logout or reboot. \
             Restore the key from your backup into a persistent store"
        }
        KeyStoreKind::File => {
            "Check the path (and that the file was not moved or removed by a cleanup), or \
             restore the key file from your backup (64 hex characters, mode 0600)"
        }
    };
    format!(
        "no database key found in {place}. The database was left untouched. {hint}; \
         never re-initialise over the existing database."
    )
}

/// Where a location points, in words, without anything secret.
pub(crate) fn describe(location: &KeyLocation) -> String {
    match location.kind {
        KeyStoreKind::Os => format!(
            "the OS keyring ({}) under service {:?}, account {:?}",
            os_store_name(),
            location.service,
            location.account
        ),
        KeyStoreKind::Keyutils => format!(
            "the Linux kernel session keyring (volatile) under service {:?}, account {:?}",
            location.service, location.account
        ),
        KeyStoreKind::File => match &location.file {
            Some(path) => format!("the key file {}", show(path)),
            None => "a key file (no path recorded)".to_owned(),
        },
    }
}

pub(crate) fn show(path: &std::path::Path) -> String {
    // Quoted as written, not Debug-escaped: a Windows path shows its
    // backslashes once (`C:\ProgramData\…`), as shop IT would type it.
    format!("\"{}\"", path.display())
}

pub(crate) fn os_store_name() -> &'static str {
    if cfg!(windows) {
        "Windows Credential Manager"
    } else if cfg!(target_os = "macos") {
        "macOS Keychain"
    } else {
        "Secret Service over D-Bus"
    }
}
