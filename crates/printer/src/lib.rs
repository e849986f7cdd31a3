//! Receipt printing to ESC/POS network printers (raw TCP, port 9100).
//!
//! Pure in the middle, I/O at the edge:
//!
//! * [`ReceiptDoc`] / [`TextDoc`] — what to print. Money and dates arrive as
//!   text already formatted by the caller (e.g. `"Rp 12.500"`), so this crate
//!   knows nothing about currencies or locales.
//! * [`encode_receipt`] / [`encode_text`] — layout for the paper [`Width`] and
//!   ESC/POS bytes. No I/O, no clock: the same document always gives the same
//!   bytes.
//! * [`decode`] — reads back the subset of ESC/POS this crate emits, so tests
//!   and the end-to-end harness (a fake printer) can check the printed lines.
//! * [`send`] — the only I/O: one blocking TCP connection, bounded by a
//!   timeout, with errors worded for the person on the support phone.
//!
//! # Why the command bytes are hand-encoded (and not the `escpos` crate)
//!
//! `escpos` 0.20 was checked. Its command builders are crate-private and only
//! reachable through `Printer<D: Driver>`, which brings its own driver model
//! (and its own network driver) where we want plain bytes and our own timeout
//! and error wording; it has no decoder for tests; its drawer kick is the
//! three-byte `ESC p m`, without the pulse times many drawers need; and it
//! adds `encoding_rs`, `hashbrown`, `log` and `spin` for what is here about
//! ten fixed byte strings, named in one place (`commands.rs`).
//!
//! # Text and width
//!
//! Text is printed in the printer's font A with code page 0 (PC437, whose
//! lower half is plain ASCII). Every string is reduced to printable ASCII
//! first (see [`to_ascii`]): accents are stripped (`é` → `e`), a few
//! ligatures and symbols are spelled out (`ß` → `ss`, `€` → `EUR`), control
//! characters become spaces, and anything else becomes `?`. Lines are then
//! fitted to [`Width::columns`] (32 or 48) by word wrapping, so no text is
//! ever cut off and no line is longer than the paper; see [`encode_receipt`]
//! for the exact layout.

mod ascii;
mod commands;
mod decode;
mod doc;
mod encode;
mod layout;
mod send;

pub use ascii::to_ascii;
pub use decode::{DecodeError, Decoded, LineStyle, decode};
pub use doc::{ReceiptDoc, ReceiptItem, TextDoc, Width};
pub use encode::{encode_receipt, encode_text};
pub use send::{DEFAULT_PORT, PrintError, send};
