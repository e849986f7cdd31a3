//! The encrypted data dir that a terminal and a branch relay both keep, and
//! the journal table inside it.
//!
//! A data dir is a plaintext manifest (which device, where the database key
//! is kept, the key's fingerprint) and one SQLCipher database with the
//! schema of `migrations/terminal`. [`data_dir`] creates one (key chosen and
//! stored through `sentra-keystore`, database created and migrated, manifest
//! written last) and opens one (manifest read, key loaded, fingerprint
//! checked, database opened and migrated). [`db`] is the SQLCipher layer
//! underneath, [`manifest`] the manifest file, [`journal`] the rows of the
//! `journal` table exactly as signed.
//!
//! Nothing here knows about tills, shifts or HTTP: what a manifest holds
//! beyond the shared fields, and the identity rows written into a new
//! database, belong to the owner (see [`DataDirManifest`]).

pub mod data_dir;
pub mod db;
pub mod error;
pub mod journal;
pub mod manifest;

pub use data_dir::{ExistingKeyFile, KeyChoice, ManifestBasics, Unfinished};
pub use error::{Result, StoreError};
pub use manifest::DataDirManifest;
