//! Reads back the ESC/POS this crate emits, the way a printer would, so
//! tests and the end-to-end harness (a fake printer on a TCP port) can check
//! what would have come out on paper. Anything outside that subset is an
//! error, not silently skipped: an encoder change that emits a new command
//! must be taught here too.

use thiserror::Error;

use crate::commands::{ESC, GS, LF};

/// What a printer would have done with a job.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    /// The printed lines, trailing spaces trimmed. Justification done by the
    /// printer (centered titles) is reported in [`Decoded::styles`], not as
    /// leading spaces; spaces the encoder put in the text (right-aligned
    /// amounts) are kept.
    pub lines: Vec<String>,
    /// The style of each line, same length and order as `lines`.
    pub styles: Vec<LineStyle>,
    /// Paper cuts (`GS V`).
    pub cuts: usize,
    /// Drawer pulses (`ESC p`).
    pub drawer_kicks: usize,
    /// The job starts with `ESC @`, i.e. from a reset printer.
    pub initialized: bool,
}

impl Decoded {
    /// All lines joined with `\n`, handy for `contains` checks and messages.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

/// How a line was printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LineStyle {
    /// Centered by the printer (`ESC a 1` at the start of the line).
    pub centered: bool,
    /// Some of the line's text was emphasized (`ESC E 1`).
    pub bold: bool,
    /// Some of the line's text was double height (`GS ! 1`).
    pub double_height: bool,
}

/// Why a byte stream is not something this crate would have sent.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    #[error("unknown ESC/POS command {} at byte {offset}", show(&[*prefix, *code]))]
    UnknownCommand { offset: usize, prefix: u8, code: u8 },
    #[error("the {command} command at byte {offset} is cut short")]
    Truncated {
        offset: usize,
        command: &'static str,
    },
    #[error("the {command} command at byte {offset} has the unsupported parameter {value}")]
    InvalidParameter {
        offset: usize,
        command: &'static str,
        value: u8,
    },
    #[error("byte 0x{byte:02X} at {offset} is neither printable ASCII nor a known command")]
    UnsupportedByte { offset: usize, byte: u8 },
    #[error(
        "text before byte {offset} is not ended by a line feed, so the printer would not print it"
    )]
    UnterminatedLine { offset: usize },
}

fn show(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            ESC => "ESC".to_string(),
            GS => "GS".to_string(),
            0x21..=0x7e => (b as char).to_string(),
            _ => format!("0x{b:02X}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Clone, Copy, Default)]
struct Modes {
    center: bool,
    bold: bool,
    tall: bool,
}

/// Decodes a job made of printable ASCII, `LF`, `ESC @`, `ESC t 0`,
/// `ESC a n`, `ESC E n`, `GS ! n` (height only), `GS V` (any cut form) and
/// `ESC p m t1 t2`. Text must end with `LF` before a cut or the end of the
/// job, as a printer only prints complete lines.
pub fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let mut out = Decoded {
        initialized: bytes.starts_with(&[ESC, b'@']),
        ..Decoded::default()
    };
    let mut modes = Modes::default();
    let mut pending = String::new();
    let mut pending_style: Option<LineStyle> = None;
    let mut i = 0;

    while let Some(&b) = bytes.get(i) {
        let at = i;
        let param = |k: usize, command: &'static str| {
            bytes.get(at + k).copied().ok_or(DecodeError::Truncated {
                offset: at,
                command,
            })
        };
        let invalid = |command: &'static str, value: u8| DecodeError::InvalidParameter {
            offset: at,
            command,
            value,
        };
        match b {
            0x20..=0x7e => {
                let style = pending_style.get_or_insert(LineStyle {
                    centered: modes.center,
                    ..LineStyle::default()
                });
                style.bold |= modes.bold;
                style.double_height |= modes.tall;
                pending.push(b as char);
                i += 1;
            }
            LF => {
                let style = pending_style.take().unwrap_or(LineStyle {
                    centered: modes.center,
                    bold: false,
                    double_height: false,
                });
                out.lines.push(pending.trim_end().to_string());
                out.styles.push(style);
                pending.clear();
                i += 1;
            }
            ESC => {
                let code = param(1, "ESC")?;
                match code {
                    b'@' => {
                        // The printer clears its buffer and modes.
                        pending.clear();
                        pending_style = None;
                        modes = Modes::default();
                        i += 2;
                    }
                    b't' => {
                        let n = param(2, "ESC t")?;
                        if n != 0 {
                            return Err(invalid("ESC t", n));
                        }
                        i += 3;
                    }
                    b'a' => {
                        let n = param(2, "ESC a")?;
                        modes.center = match n {
                            0 | 48 | 2 | 50 => false,
                            1 | 49 => true,
                            _ => return Err(invalid("ESC a", n)),
                        };
                        i += 3;
                    }
                    b'E' => {
                        modes.bold = param(2, "ESC E")? & 1 == 1;
                        i += 3;
                    }
                    b'p' => {
                        let m = param(2, "ESC p")?;
                        if !matches!(m, 0 | 1 | 48 | 49) {
                            return Err(invalid("ESC p", m));
                        }
                        param(4, "ESC p")?;
                        out.drawer_kicks += 1;
                        i += 5;
                    }
                    _ => {
                        return Err(DecodeError::UnknownCommand {
                            offset: i,
                            prefix: ESC,
                            code,
                        });
                    }
                }
            }
            GS => {
                let code = param(1, "GS")?;
                match code {
                    b'!' => {
                        let n = param(2, "GS !")?;
                        // Width magnification would change the characters
                        // per line, which the layout assumes fixed.
                        if n & 0xf0 != 0 || n & 0x0f > 7 {
                            return Err(invalid("GS !", n));
                        }
                        modes.tall = n != 0;
                        i += 3;
                    }
                    b'V' => {
                        if !pending.is_empty() {
                            return Err(DecodeError::UnterminatedLine { offset: i });
                        }
                        let m = param(2, "GS V")?;
                        i += match m {
                            0 | 1 | 48 | 49 => 3,
                            65 | 66 => {
                                param(3, "GS V")?;
                                4
                            }
                            _ => return Err(invalid("GS V", m)),
                        };
                        out.cuts += 1;
                    }
                    _ => {
                        return Err(DecodeError::UnknownCommand {
                            offset: i,
                            prefix: GS,
                            code,
                        });
                    }
                }
            }
            _ => return Err(DecodeError::UnsupportedByte { offset: i, byte: b }),
        }
    }
    if !pending.is_empty() {
        return Err(DecodeError::UnterminatedLine {
            offset: bytes.len(),
        });
    }
    Ok(out)
}
