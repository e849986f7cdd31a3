//! The keyring-backed stores, through the `keyring` crate: the OS store
//! (Secret Service on Linux, Credential Manager on Windows, Keychain on macOS)
//! and, on Linux, the kernel session keyring.
//!
//! The key is kept as 64 hex characters (the same text as a key file or a
//! backup), so `secret-tool lookup service sentra-pos username <account>`
//! shows exactly what to back up.

use std::time::Duration;

use zeroize::Zeroizing;

use crate::error::describe;
use crate::{DbKey, KeyError, KeyLocation, KeyStoreKind};

/// How long [`crate::choose`] waits for a Secret Service to answer before
/// deciding there is none.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long one store/load/delete may wait on the Secret Service (an unlock
/// prompt on a desktop may need a person).
#[cfg(target_os = "linux")]
const OPERATION_TIMEOUT: Duration = Duration::from_secs(60);

/// The account used by the probe; never written to.
#[cfg(target_os = "linux")]
const PROBE_ACCOUNT: &str = "sentra-keystore-probe";

pub(crate) fn store(loc: &KeyLocation, key: &DbKey) -> Result<(), KeyError> {
    let hex = key.to_hex();
    with_entry(loc, move |entry, loc| {
        match entry.get_password() {
            Ok(_) | Err(keyring::Error::Ambiguous(_)) => {
                return Err(KeyError::AlreadyExists(describe(loc)));
            }
            Err(keyring::Error::NoEntry) => {}
            Err(e) => return Err(map_error(loc, e)),
        }
        entry.set_password(&hex).map_err(|e| map_error(loc, e))
    })
}

pub(crate) fn load(loc: &KeyLocation) -> Result<DbKey, KeyError> {
    with_entry(loc, |entry, loc| {
        let text = Zeroizing::new(entry.get_password().map_err(|e| map_error(loc, e))?);
        DbKey::from_hex(&text).map_err(|e| match e {
            KeyError::Malformed(why) => {
                KeyError::Malformed(format!("the entry in {}: {why}", describe(loc)))
            }
            other => other,
        })
    })
}

pub(crate) fn delete(loc: &KeyLocation) -> Result<(), KeyError> {
    with_entry(loc, |entry, loc| {
        entry.delete_credential().map_err(|e| map_error(loc, e))
    })
}

fn map_error(loc: &KeyLocation, err: keyring::Error) -> KeyError {
    match err {
        keyring::Error::NoEntry => KeyError::Missing {
            location: loc.clone(),
        },
        keyring::Error::NoStorageAccess(e) => KeyError::Platform(format!(
            "cannot access {} (is the keyring locked, or is this another user's \
             session?): {e}",
            describe(loc)
        )),
        keyring::Error::BadEncoding(_) => KeyError::Malformed(format!(
            "the entry in {} is not text; expected 64 hex characters",
            describe(loc)
        )),
        keyring::Error::Ambiguous(items) => KeyError::Platform(format!(
            "{} entries match {}; remove the duplicates by hand",
            items.len(),
            describe(loc)
        )),
        other => KeyError::Platform(format!("{}: {other}", describe(loc))),
    }
}

/// Runs `f` on the credential for `loc`. Secret Service calls run on their own
/// thread with a timeout: they block on D-Bus, which must neither hang the
/// caller forever nor run inside the caller's async runtime.
fn with_entry<T, F>(loc: &KeyLocation, f: F) -> Result<T, KeyError>
where
    T: Send + 'static,
    F: FnOnce(&keyring::Entry, &KeyLocation) -> Result<T, KeyError> + Send + 'static,
{
    match loc.kind {
        KeyStoreKind::File => Err(KeyError::Platform(
            "internal: a key file is not a keyring entry".to_owned(),
        )),
        KeyStoreKind::Keyutils => {
            let entry = keyutils_entry(loc)?;
            f(&entry, loc)
        }
        KeyStoreKind::Os => os_call(loc, f),
    }
}

#[cfg(target_os = "linux")]
fn os_call<T, F>(loc: &KeyLocation, f: F) -> Result<T, KeyError>
where
    T: Send + 'static,
    F: FnOnce(&keyring::Entry, &KeyLocation) -> Result<T, KeyError> + Send + 'static,
{
    session_bus_present().map_err(|why| {
        KeyError::Unavailable(format!(
            "cannot reach {}: {why}. Run this in the user session that holds the \
             keyring (a desktop session, or one with a Secret Service running)",
            describe(loc)
        ))
    })?;
    let owned = loc.clone();
    on_thread(OPERATION_TIMEOUT, move || {
        let credential = keyring::secret_service::SsCredential::new_with_target(
            None,
            &owned.service,
            &owned.account,
        )
        .map_err(|e| map_error(&owned, e))?;
        let entry = keyring::Entry::new_with_credential(Box::new(credential));
        f(&entry, &owned)
    })
    .unwrap_or_else(|| {
        Err(KeyError::Platform(format!(
            "{} did not answer within {} s (is an unlock prompt waiting?)",
            describe(loc),
            OPERATION_TIMEOUT.as_secs()
        )))
    })
}

#[cfg(not(target_os = "linux"))]
fn os_call<T, F>(loc: &KeyLocation, f: F) -> Result<T, KeyError>
where
    F: FnOnce(&keyring::Entry, &KeyLocation) -> Result<T, KeyError>,
{
    let entry = keyring::Entry::new(&loc.service, &loc.account).map_err(|e| map_error(loc, e))?;
    f(&entry, loc)
}

#[cfg(target_os = "linux")]
fn keyutils_entry(loc: &KeyLocation) -> Result<keyring::Entry, KeyError> {
    let credential =
        keyring::keyutils::KeyutilsCredential::new_with_target(None, &loc.service, &loc.account)
            .map_err(|e| match e {
                keyring::Error::NoEntry => KeyError::Unavailable(
                    "no Linux kernel session keyring in this process (run under \
                     `keyctl session -`, or a login session)"
                        .to_owned(),
                ),
                other => map_error(loc, other),
            })?;
    Ok(keyring::Entry::new_with_credential(Box::new(credential)))
}

#[cfg(not(target_os = "linux"))]
fn keyutils_entry(_loc: &KeyLocation) -> Result<keyring::Entry, KeyError> {
    Err(keyutils_unsupported())
}

#[cfg(not(target_os = "linux"))]
fn keyutils_unsupported() -> KeyError {
    KeyError::Unavailable(
        "the keyutils store (Linux kernel session keyring) exists only on Linux".to_owned(),
    )
}

pub(crate) fn keyutils_supported() -> Result<(), KeyError> {
    #[cfg(target_os = "linux")]
    return Ok(());
    #[cfg(not(target_os = "linux"))]
    return Err(keyutils_unsupported());
}

/// Is there a usable OS keyring? On Windows and macOS there always is; on Linux
/// a Secret Service must answer on the session bus within [`PROBE_TIMEOUT`].
#[cfg(target_os = "linux")]
pub(crate) fn probe() -> Result<(), KeyError> {
    session_bus_present().map_err(KeyError::Unavailable)?;
    let answer = on_thread(PROBE_TIMEOUT, || {
        let credential = keyring::secret_service::SsCredential::new_with_target(
            None,
            crate::SERVICE,
            PROBE_ACCOUNT,
        )?;
        keyring::Entry::new_with_credential(Box::new(credential))
            .get_password()
            .map(|_| ())
    });
    match answer {
        None => Err(KeyError::Unavailable(format!(
            "no Secret Service answered on the session D-Bus within {} s",
            PROBE_TIMEOUT.as_secs()
        ))),
        Some(Ok(())) | Some(Err(keyring::Error::NoEntry)) => Ok(()),
        Some(Err(keyring::Error::NoStorageAccess(e))) => Err(KeyError::Unavailable(format!(
            "a Secret Service answered on the session D-Bus, but its default keyring cannot \
             be used (locked, or no default collection): {e}"
        ))),
        Some(Err(e)) => Err(KeyError::Unavailable(format!(
            "no Secret Service (GNOME Keyring, KWallet) on the session D-Bus: {e}"
        ))),
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn probe() -> Result<(), KeyError> {
    Ok(())
}

/// Cheap check before any D-Bus call: is a session bus address known and, for
/// the default address, does its socket exist? Mirrors how zbus finds the bus.
#[cfg(target_os = "linux")]
fn session_bus_present() -> Result<(), String> {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|v| !v.is_empty()) {
        return Ok(());
    }
    let runtime_dir = match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => std::path::PathBuf::from(dir),
        _ => {
            use std::os::unix::fs::MetadataExt;
            let uid = std::fs::metadata("/proc/self")
                .map(|m| m.uid())
                .map_err(|e| {
                    format!("DBUS_SESSION_BUS_ADDRESS is not set and the user id is unknown: {e}")
                })?;
            std::path::PathBuf::from(format!("/run/user/{uid}"))
        }
    };
    let socket = runtime_dir.join("bus");
    if socket.exists() {
        Ok(())
    } else {
        Err(format!(
            "no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is not set and {} does not exist",
            socket.display()
        ))
    }
}

/// Runs `f` on a new thread; `None` if it has not finished within `timeout`
/// (the thread is then left to finish or block on its own).
#[cfg(target_os = "linux")]
fn on_thread<T, F>(timeout: Duration, f: F) -> Option<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name("sentra-keystore-dbus".to_owned())
        .spawn(move || {
            let _ = tx.send(f());
        });
    match spawned {
        Ok(_) => rx.recv_timeout(timeout).ok(),
        Err(_) => None,
    }
}
