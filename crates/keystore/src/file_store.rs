//! The key-file fallback: 64 hex characters and a newline, in a file created
//! with mode 0600 (Unix), never overwritten.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::Path;

use zeroize::Zeroizing;

use crate::error::show;
use crate::{DbKey, KeyError, KeyLocation};

pub(crate) fn store(path: &Path, key: &DbKey) -> Result<(), KeyError> {
    if path.exists() {
        return Err(KeyError::AlreadyExists(format!(
            "the key file {}",
            show(path)
        )));
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    create_private_dir(dir)?;

    // Write a temporary file in the same directory, flush it to disk, then
    // hard-link it into place: the link fails if the key file appeared in the
    // meantime, and a crash never leaves a half-written key under the real name.
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let _ = fs::remove_file(&tmp);
    let result = write_new(&tmp, key).and_then(|()| match fs::hard_link(&tmp, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Err(KeyError::AlreadyExists(format!(
            "the key file {}",
            show(path)
        ))),
        Err(e) => Err(KeyError::io(
            format!("cannot create the key file {}", show(path)),
            e,
        )),
    });
    let _ = fs::remove_file(&tmp);
    result?;
    sync_dir(dir);
    Ok(())
}

pub(crate) fn load(loc: &KeyLocation, path: &Path) -> Result<DbKey, KeyError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => Zeroizing::new(bytes),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(KeyError::Missing {
                location: loc.clone(),
            });
        }
        Err(e) => {
            return Err(KeyError::io(
                format!("cannot read the key file {}", show(path)),
                e,
            ));
        }
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        KeyError::Malformed(format!(
            "the key file {} is not text; it must hold the key as 64 hex characters",
            show(path)
        ))
    })?;
    DbKey::from_hex(text).map_err(|e| match e {
        KeyError::Malformed(why) => KeyError::Malformed(format!(
            "the key file {} must hold the key as 64 hex characters: {why}",
            show(path)
        )),
        other => other,
    })
}

pub(crate) fn delete(loc: &KeyLocation, path: &Path) -> Result<(), KeyError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Err(KeyError::Missing {
            location: loc.clone(),
        }),
        Err(e) => Err(KeyError::io(
            format!("cannot delete the key file {}", show(path)),
            e,
        )),
    }
}

fn write_new(path: &Path, key: &DbKey) -> Result<(), KeyError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let context = || format!("cannot write the key file {}", show(path));
    let mut file = options.open(path).map_err(|e| KeyError::io(context(), e))?;
    let mut text = key.to_hex();
    text.push('\n');
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| KeyError::io(context(), e))
}

fn create_private_dir(dir: &Path) -> Result<(), KeyError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| KeyError::io(format!("cannot create the key directory {}", show(dir)), e))
}

fn sync_dir(dir: &Path) {
    // Best effort: makes the new name durable on Unix; not possible on Windows.
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}
