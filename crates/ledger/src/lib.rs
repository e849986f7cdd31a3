//! Ledger rules shared by the terminal and the cloud, with no I/O.
//!
//! * [`shift`]: what a sale payload contributes to its shift, and a shift
//!   summary in its wire form — the same fold on the terminal (live X report)
//!   and in the cloud (`shift_mismatch`).
//! * [`validate`]: the payload schema of each entry kind, checked before an
//!   entry is applied; a genuinely signed entry that fails goes to quarantine.
//! * [`rules`]: the conflict rules of the cloud's conflict catalogue, as pure
//!   functions of the state they need, so each is testable without a database.
//! * [`catalog_csv`]: the catalog CSV both the terminal and the cloud import,
//!   parsed and validated whole, each refusal naming its line.

pub mod catalog_csv;
pub mod rules;
pub mod shift;
pub mod validate;

pub use shift::{figures_of, parse_method, totals_of};
pub use validate::{Invalid, Typed, validate};
