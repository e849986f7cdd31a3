//! The ESC/POS commands this crate emits, named once. The decoder accepts
//! exactly these (plus the equivalent parameter spellings the Epson manual
//! allows), so adding a command here means teaching `decode.rs` too.

pub const ESC: u8 = 0x1b;
pub const GS: u8 = 0x1d;
/// Print the buffer and feed one line.
pub const LF: u8 = 0x0a;

/// `ESC @`: reset the printer (styles, justification, code page).
pub const INIT: [u8; 2] = [ESC, b'@'];
/// `ESC t 0`: character code table 0 (PC437), whose lower half is ASCII.
pub const CODE_PAGE_ASCII: [u8; 3] = [ESC, b't', 0];
/// `ESC a n`: justification.
pub const ALIGN_LEFT: [u8; 3] = [ESC, b'a', 0];
pub const ALIGN_CENTER: [u8; 3] = [ESC, b'a', 1];
/// `ESC E n`: emphasized (bold).
pub const BOLD_ON: [u8; 3] = [ESC, b'E', 1];
pub const BOLD_OFF: [u8; 3] = [ESC, b'E', 0];
/// `GS ! n`: character size. Double height only: the width in characters
/// per line stays the same, so the layout does not change.
pub const SIZE_DOUBLE_HEIGHT: [u8; 3] = [GS, b'!', 0x01];
pub const SIZE_NORMAL: [u8; 3] = [GS, b'!', 0x00];
/// `GS V 66 0`: feed to the cutter and cut partially (the receipt stays
/// hanging so it does not fall on the floor).
pub const FEED_AND_PARTIAL_CUT: [u8; 4] = [GS, b'V', 66, 0];
/// `ESC p 0 25 250`: pulse drawer pin 2 on for 50 ms, off for 500 ms.
pub const DRAWER_KICK: [u8; 5] = [ESC, b'p', 0, 25, 250];
