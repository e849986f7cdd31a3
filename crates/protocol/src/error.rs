//! Errors of building and encoding entries.

/// Why an entry or payload could not be encoded, built or decoded.
///
/// Every variant is *permanent*: retrying the same input gives the same
/// error.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// Payloads carry integers only (minor units, thousandths, decimal
    /// strings), so their canonical form is exact on every platform.
    #[error("payload contains a floating-point number; amounts and quantities must be integers")]
    FloatInPayload,
    /// An integer in a payload lies outside ±(2^53 − 1), where JSON readers
    /// that use doubles would lose precision.
    #[error("payload integer {0} is outside ±(2^53 - 1)")]
    IntegerOutOfRange(String),
    /// The entry's `format` is not one this build knows.
    #[error("unsupported entry format {0}")]
    UnsupportedFormat(u16),
    /// A field is longer than a `u32` length prefix can describe.
    #[error("field `{0}` is too long to encode")]
    FieldTooLong(&'static str),
    /// A hex string (hash, signature) is not valid lowercase/uppercase hex of
    /// the right length.
    #[error("invalid hex for {what}: {reason}")]
    InvalidHex { what: &'static str, reason: String },
    /// The payload has a different kind than the one asked for.
    #[error("payload kind mismatch: entry is `{found}`, expected `{expected}`")]
    KindMismatch { expected: String, found: String },
    /// JSON (de)serialisation of a payload failed.
    #[error("payload JSON: {0}")]
    Json(#[from] serde_json::Error),
}
