//! What head office set for this till's branch (the pulled
//! `branch_settings`), read with the till's own settings as the fallback:
//! what the receipt prints as a *faktur pajak eceran*, its language and time
//! zone, and how the branch's scale labels are read.

use sentra_domain::ppn::format_npwp;
use sentra_domain::scale_label::ScaleRule;
use serde::Deserialize;

use super::settings::PosSettings;

/// The pulled settings, every field optional: an older cloud sends fewer,
/// and a till that has not pulled yet has none.
#[derive(Debug, Default, Deserialize)]
struct Pulled {
    name: Option<String>,
    timezone: Option<String>,
    receipt_header: Option<String>,
    legal_name: Option<String>,
    store_name: Option<String>,
    address: Option<String>,
    npwp: Option<String>,
    receipt_footer: Option<String>,
    receipt_language: Option<String>,
    scale_labels: Option<Vec<ScaleRule>>,
}

/// The branch as the receipt and the scanner see it.
#[derive(Clone, Debug, PartialEq)]
pub struct BranchProfile {
    /// The seller (PKP) whose NPWP this is; printed first when set.
    pub legal_name: Option<String>,
    pub store_name: String,
    pub address_lines: Vec<String>,
    /// As printed: `01.234.567.8-901.000`.
    pub npwp: Option<String>,
    /// Extra lines head office put under the address.
    pub header_lines: Vec<String>,
    pub footer_lines: Vec<String>,
    /// `id` or `en`: receipts follow the branch, not the cashier's screen.
    pub receipt_language: String,
    pub timezone: Option<chrono_tz::Tz>,
    pub branch: String,
    pub device: String,
    pub scale_rules: Vec<ScaleRule>,
}

fn lines(text: Option<&str>) -> Vec<String> {
    text.map(|t| {
        t.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

impl BranchProfile {
    /// `pulled` is the branch's `branch_settings` data, if any. A field that
    /// is absent, empty or unreadable falls back to the till's own setting
    /// (store name, footer) or to the default (Indonesian, the till's clock
    /// zone, the default scale rule).
    pub fn new(
        pulled: Option<&serde_json::Value>,
        local: &PosSettings,
        branch: &str,
        device: &str,
    ) -> BranchProfile {
        let p: Pulled = pulled
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        let set = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        let store_name = set(p.store_name)
            .or_else(|| set(p.name.clone()))
            .unwrap_or_else(|| local.store_name.clone());
        // The cloud sends the branch name as the header when none was set;
        // a line that only repeats the branch or store name is not printed.
        let header_lines = lines(p.receipt_header.as_deref())
            .into_iter()
            .filter(|l| *l != store_name && Some(l) != p.name.as_ref())
            .collect();
        let footer_lines = match set(p.receipt_footer) {
            Some(f) => lines(Some(&f)),
            None => lines(Some(&local.receipt_footer)),
        };
        let receipt_language = match p.receipt_language.as_deref() {
            Some("en") => "en",
            _ => "id",
        }
        .to_owned();
        let scale_rules = p
            .scale_labels
            .map(|rules| rules.into_iter().filter(|r| r.validate().is_ok()).collect())
            .unwrap_or_else(ScaleRule::defaults);
        BranchProfile {
            legal_name: set(p.legal_name),
            store_name,
            address_lines: lines(p.address.as_deref()),
            npwp: set(p.npwp).map(|n| format_npwp(&n)),
            header_lines,
            footer_lines,
            receipt_language,
            timezone: p.timezone.and_then(|z| z.parse().ok()),
            branch: branch.to_owned(),
            device: device.to_owned(),
            scale_rules,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pulled_settings_win_and_the_till_fills_the_gaps() {
        let local = PosSettings::default();
        let none = BranchProfile::new(None, &local, "TRIAL", "T01");
        assert_eq!(none.store_name, local.store_name);
        assert_eq!(
            none.footer_lines,
            std::slice::from_ref(&local.receipt_footer)
        );
        assert_eq!((none.receipt_language.as_str(), none.npwp), ("id", None));
        assert_eq!(none.scale_rules, ScaleRule::defaults());

        let pulled = json!({
            "branch": "JKT01", "name": "Jakarta Satu", "timezone": "Asia/Makassar",
            "receipt_header": "Jakarta Satu\nBuka 07.00-22.00", "legal_name": "PT Sentra Ritel",
            "store_name": null, "address": "Jl. Sudirman 1\n\nJakarta 10220",
            "npwp": "012345678901000", "receipt_footer": null, "receipt_language": "en",
            "scale_labels": [{"prefix": "22", "item_digits": 4, "embeds": "price"},
                             {"prefix": "19", "item_digits": 5, "embeds": "weight"}]
        });
        let p = BranchProfile::new(Some(&pulled), &local, "JKT01", "T01");
        assert_eq!(p.store_name, "Jakarta Satu");
        assert_eq!(p.header_lines, ["Buka 07.00-22.00"]);
        assert_eq!(p.address_lines, ["Jl. Sudirman 1", "Jakarta 10220"]);
        assert_eq!(p.npwp.as_deref(), Some("01.234.567.8-901.000"));
        assert_eq!(p.receipt_language, "en");
        assert_eq!(p.timezone, Some(chrono_tz::Asia::Makassar));
        assert_eq!(p.scale_rules.len(), 1, "the invalid rule is dropped");
        assert_eq!(p.footer_lines, [local.receipt_footer]);
    }
}
