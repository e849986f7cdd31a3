//! Entry kinds, and the trait tying each typed payload to its kind.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What business fact an entry records. Serialised as its snake_case name.
///
/// Names this build does not know become [`EntryKind::Other`], so an older
/// reader still carries, hashes and verifies entries of kinds added later.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum EntryKind {
    SaleCompleted,
    SaleVoided,
    RefundIssued,
    ShiftOpened,
    ShiftClosed,
    CashMoved,
    /// The drawer was opened without a sale ("no sale"), with a reason.
    DrawerOpened,
    StockCounted,
    /// Wrong PINs locked someone (or the till's supervisor approvals) out.
    PinLockedOut,
    /// The till's clock stepped back: entries after it were made with a
    /// clock behind (see `docs/sync-protocol.md`, clock skew).
    ClockSteppedBack,
    /// Pulled master data was refused: not as the cloud signed it.
    MasterDataRefused,
    /// A kind this build does not know, by name.
    Other(String),
}

impl EntryKind {
    /// Every kind this build knows, in a fixed order.
    pub const KNOWN: [EntryKind; 11] = [
        EntryKind::SaleCompleted,
        EntryKind::SaleVoided,
        EntryKind::RefundIssued,
        EntryKind::ShiftOpened,
        EntryKind::ShiftClosed,
        EntryKind::CashMoved,
        EntryKind::StockCounted,
        EntryKind::PinLockedOut,
        EntryKind::ClockSteppedBack,
        EntryKind::MasterDataRefused,
        EntryKind::DrawerOpened,
    ];

    pub fn as_str(&self) -> &str {
        match self {
            EntryKind::SaleCompleted => "sale_completed",
            EntryKind::SaleVoided => "sale_voided",
            EntryKind::RefundIssued => "refund_issued",
            EntryKind::ShiftOpened => "shift_opened",
            EntryKind::ShiftClosed => "shift_closed",
            EntryKind::CashMoved => "cash_moved",
            EntryKind::StockCounted => "stock_counted",
            EntryKind::PinLockedOut => "pin_locked_out",
            EntryKind::ClockSteppedBack => "clock_stepped_back",
            EntryKind::MasterDataRefused => "master_data_refused",
            EntryKind::DrawerOpened => "drawer_opened",
            EntryKind::Other(name) => name,
        }
    }

    /// The kind with this name; unknown names become [`EntryKind::Other`].
    pub fn from_name(name: &str) -> EntryKind {
        match name {
            "sale_completed" => EntryKind::SaleCompleted,
            "sale_voided" => EntryKind::SaleVoided,
            "refund_issued" => EntryKind::RefundIssued,
            "shift_opened" => EntryKind::ShiftOpened,
            "shift_closed" => EntryKind::ShiftClosed,
            "cash_moved" => EntryKind::CashMoved,
            "stock_counted" => EntryKind::StockCounted,
            "pin_locked_out" => EntryKind::PinLockedOut,
            "clock_stepped_back" => EntryKind::ClockSteppedBack,
            "master_data_refused" => EntryKind::MasterDataRefused,
            "drawer_opened" => EntryKind::DrawerOpened,
            other => EntryKind::Other(other.to_owned()),
        }
    }

    /// Whether this build knows the kind (it is not [`EntryKind::Other`]).
    pub fn is_known(&self) -> bool {
        !matches!(self, EntryKind::Other(_))
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EntryKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EntryKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(EntryKind::from_name(&s))
    }
}

/// A typed payload and the entry kind it belongs to.
///
/// Implemented for every struct in [`crate::payload`] that is the payload of
/// a kind; see [`crate::UnsignedEntry::with_payload`] and
/// [`crate::Entry::payload_as`].
pub trait EntryPayload: Serialize + DeserializeOwned {
    fn kind() -> EntryKind;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in EntryKind::KNOWN {
            assert_eq!(EntryKind::from_name(k.as_str()), k);
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
            assert_eq!(serde_json::from_str::<EntryKind>(&json).unwrap(), k);
            assert!(k.is_known());
        }
        assert_eq!(EntryKind::SaleCompleted.as_str(), "sale_completed");
        assert_eq!(EntryKind::StockCounted.to_string(), "stock_counted");
    }

    #[test]
    fn unknown_names_are_kept() {
        let k: EntryKind = serde_json::from_str("\"price_overridden\"").unwrap();
        assert_eq!(k, EntryKind::Other("price_overridden".into()));
        assert!(!k.is_known());
        assert_eq!(serde_json::to_string(&k).unwrap(), "\"price_overridden\"");
    }
}
