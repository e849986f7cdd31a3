//! Master data signed by the cloud: every pulled [`Change`] carries the
//! cloud's Ed25519 signature, so a relay (or anyone on the shop's LAN) can
//! pass changes on, hold them back or replay old ones, but never alter one.
//!
//! Specified in `docs/sync-protocol.md`, "Master data is signed by the
//! cloud". The signed bytes are [`MASTER_DOMAIN_TAG`] followed by the
//! canonical JSON (RFC 8785, integers only) of
//! `{"data", "deleted", "entity", "key", "scope", "version"}`.

use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use serde_json::{Value, json};

use crate::wire::{Change, StockPage};
use crate::{ProtocolError, Signature, canonical_json};

/// The first bytes of every signed change (no length prefix); no entry's
/// encoding starts with them, so a change signature is never an entry's.
pub const MASTER_DOMAIN_TAG: &[u8] = b"sentra.master";

/// The bytes the cloud signs for `change`.
pub fn change_signing_bytes(change: &Change) -> Result<Vec<u8>, ProtocolError> {
    let mut bytes = MASTER_DOMAIN_TAG.to_vec();
    bytes.extend(canonical_json(&change_body(change))?);
    Ok(bytes)
}

/// Sets `change.signature` to the cloud's signature.
pub fn sign_change(change: &mut Change, key: &SigningKey) -> Result<(), ProtocolError> {
    let sig = key.sign(&change_signing_bytes(change)?);
    change.signature = Signature(sig.to_bytes()).to_hex();
    Ok(())
}

/// The first bytes of a signed stock page (`GET /v1/stock`).
pub const STOCK_DOMAIN_TAG: &[u8] = b"sentra.stock";

/// The bytes the cloud signs for a stock page: [`STOCK_DOMAIN_TAG`] and the
/// canonical JSON of the page without its `signature`.
pub fn stock_signing_bytes(page: &StockPage) -> Result<Vec<u8>, ProtocolError> {
    let mut body = serde_json::to_value(page)?;
    if let Value::Object(fields) = &mut body {
        fields.remove("signature");
    }
    let mut bytes = STOCK_DOMAIN_TAG.to_vec();
    bytes.extend(canonical_json(&body)?);
    Ok(bytes)
}

/// Sets `page.signature` to the cloud's signature.
pub fn sign_stock_page(page: &mut StockPage, key: &SigningKey) -> Result<(), ProtocolError> {
    let sig = key.sign(&stock_signing_bytes(page)?);
    page.signature = Signature(sig.to_bytes()).to_hex();
    Ok(())
}

/// Checks that a stock page is exactly as the cloud signed it, and for
/// `branch`.
pub fn verify_stock_page(
    page: &StockPage,
    cloud_key: &VerifyingKey,
    branch: &str,
) -> Result<(), String> {
    let sig = Signature::from_hex(&page.signature)
        .map_err(|_| "the stock page has no valid signature".to_owned())?;
    let bytes = stock_signing_bytes(page).map_err(|e| format!("the stock page: {e}"))?;
    cloud_key
        .verify(&bytes, &ed25519_dalek::Signature::from_bytes(&sig.0))
        .map_err(|_| {
            "the stock page is not as the cloud signed it (altered on the way?)".to_owned()
        })?;
    if page.branch != branch {
        return Err(format!(
            "the stock page is for branch {}, not this terminal's {branch}",
            page.branch
        ));
    }
    Ok(())
}

/// The cloud's master-data key from its 64-hex-char form.
pub fn parse_key(hex_key: &str) -> Result<VerifyingKey, String> {
    let bytes: [u8; 32] = hex::decode(hex_key.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("not 64 hex chars")?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| "not an Ed25519 key".to_owned())
}

/// Why a pulled change was not accepted as the cloud's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChangeProblem {
    #[error("{entity} {key}: no signature")]
    Unsigned { entity: String, key: String },
    #[error("{entity} {key}: the signature is not the cloud's (altered on the way?)")]
    BadSignature { entity: String, key: String },
    /// A genuine change for another branch, handed to this one.
    #[error("{entity} {key}: signed for branch {scope}, not this terminal's {branch}")]
    OtherBranch {
        entity: String,
        key: String,
        scope: String,
        branch: String,
    },
}

impl ChangeProblem {
    /// A stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            ChangeProblem::Unsigned { .. } => "unsigned",
            ChangeProblem::BadSignature { .. } => "bad_signature",
            ChangeProblem::OtherBranch { .. } => "other_branch",
        }
    }

    /// The entity and key of the change.
    pub fn change(&self) -> (&str, &str) {
        match self {
            ChangeProblem::Unsigned { entity, key }
            | ChangeProblem::BadSignature { entity, key }
            | ChangeProblem::OtherBranch { entity, key, .. } => (entity, key),
        }
    }
}

/// Checks that `change` is exactly as the cloud signed it, and meant for
/// `branch` (its own or every branch).
pub fn verify_change(
    change: &Change,
    cloud_key: &VerifyingKey,
    branch: &str,
) -> Result<(), ChangeProblem> {
    let who = || (change.entity.clone(), change.key.clone());
    if change.signature.is_empty() {
        let (entity, key) = who();
        return Err(ChangeProblem::Unsigned { entity, key });
    }
    let bad = || {
        let (entity, key) = who();
        ChangeProblem::BadSignature { entity, key }
    };
    let sig = Signature::from_hex(&change.signature).map_err(|_| bad())?;
    let bytes = change_signing_bytes(change).map_err(|_| bad())?;
    cloud_key
        .verify(&bytes, &ed25519_dalek::Signature::from_bytes(&sig.0))
        .map_err(|_| bad())?;
    match &change.scope {
        Some(scope) if scope != branch => {
            let (entity, key) = who();
            Err(ChangeProblem::OtherBranch {
                entity,
                key,
                scope: scope.clone(),
                branch: branch.to_owned(),
            })
        }
        _ => Ok(()),
    }
}

/// What of `change` is signed, as JSON (before canonical encoding).
fn change_body(change: &Change) -> Value {
    json!({
        "data": change.data,
        "deleted": change.deleted,
        "entity": change.entity,
        "key": change.key,
        "scope": change.scope,
        "version": change.version,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    fn price(scope: Option<&str>) -> Change {
        Change {
            entity: "price".into(),
            key: "17".into(),
            data: json!({"price_id": 17, "sku": "TEH", "branch": scope, "price": 6000,
                          "effective_from": "2026-12-01T00:00:00Z"}),
            deleted: false,
            scope: scope.map(str::to_owned),
            version: 42,
            signature: String::new(),
        }
    }

    #[test]
    fn a_signed_change_verifies_only_as_signed() {
        let cloud = key(1);
        let mut c = price(None);
        sign_change(&mut c, &cloud).unwrap();
        verify_change(&c, &cloud.verifying_key(), "JKT01").unwrap();

        let mut altered = c.clone();
        altered.data["price"] = json!(1000);
        assert!(matches!(
            verify_change(&altered, &cloud.verifying_key(), "JKT01"),
            Err(ChangeProblem::BadSignature { .. })
        ));
        for alter in [
            |c: &mut Change| c.version = 43,
            |c: &mut Change| c.deleted = true,
            |c: &mut Change| c.key = "18".into(),
            |c: &mut Change| c.entity = "user".into(),
            |c: &mut Change| c.scope = Some("JKT01".into()),
        ] {
            let mut a = c.clone();
            alter(&mut a);
            assert!(verify_change(&a, &cloud.verifying_key(), "JKT01").is_err());
        }
        // Signed by anyone but the cloud.
        let mut forged = price(None);
        sign_change(&mut forged, &key(2)).unwrap();
        assert!(verify_change(&forged, &cloud.verifying_key(), "JKT01").is_err());
        let unsigned = price(None);
        assert!(matches!(
            verify_change(&unsigned, &cloud.verifying_key(), "JKT01"),
            Err(ChangeProblem::Unsigned { .. })
        ));
    }

    #[test]
    fn a_change_for_another_branch_is_refused() {
        let cloud = key(1);
        let mut c = price(Some("SBY01"));
        sign_change(&mut c, &cloud).unwrap();
        verify_change(&c, &cloud.verifying_key(), "SBY01").unwrap();
        assert!(matches!(
            verify_change(&c, &cloud.verifying_key(), "JKT01"),
            Err(ChangeProblem::OtherBranch { .. })
        ));
    }
}
