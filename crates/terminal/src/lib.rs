//! Terminal core of Sentra POS: the encrypted journal store, key custody,
//! projections, catalog and shift reports. The `sentra-term` binary and the
//! desktop app are thin shells over [`Terminal`].

pub mod catalog;
pub mod error;
pub mod journal;
pub mod manifest;
pub mod pos;
pub mod projection;
pub mod reports;
pub mod stock;
pub mod store;
pub mod sync;
mod terminal;

pub use error::{
    CatalogError, ForeignSaleError, Result, SaleError, SessionError, StorageError, TerminalError,
};
pub use terminal::{
    InitOptions, InitReport, ItemRequest, Recorded, RefundReceipt, SaleReceipt, SaleRequest,
    Terminal,
};
