//! The pages' frame (header, navigation, language, sign-out), words in two
//! languages, and how money, dates and times are shown: id-ID Rupiah
//! (`Rp 14.000`) in both languages, dates and times in the branch's zone.

use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use maud::{DOCTYPE, Markup, html};

use crate::auth::Session;

/// The page language, chosen per session (Indonesian by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Id,
    En,
}

impl Lang {
    pub fn parse(s: &str) -> Lang {
        if s == "en" { Lang::En } else { Lang::Id }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Id => "id",
            Lang::En => "en",
        }
    }

    /// The Indonesian or the English words. Both sit at the call, so a page
    /// reads as what it shows.
    pub fn t(self, id: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Id => id,
            Lang::En => en,
        }
    }
}

/// `Rp 14.000`, `-Rp 1.500`: id-ID whatever the page language.
pub fn rp(minor: i64) -> String {
    sentra_domain::Money::idr(minor).to_string()
}

/// A count with id-ID grouping (`1.234`).
pub fn count(n: i64) -> String {
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

const MONTHS_ID: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des",
];
const MONTHS_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `6 Des 2026` / `6 Dec 2026`.
pub fn date(lang: Lang, d: NaiveDate) -> String {
    use chrono::Datelike;
    let months = if lang == Lang::Id {
        &MONTHS_ID
    } else {
        &MONTHS_EN
    };
    format!("{} {} {}", d.day(), months[d.month0() as usize], d.year())
}

/// `6 Des 2026 14:05` in `tz`, with the zone's abbreviation (`WIB`).
pub fn datetime(lang: Lang, at: DateTime<Utc>, tz: Tz) -> String {
    let local = at.with_timezone(&tz);
    format!(
        "{} {} {}",
        date(lang, local.date_naive()),
        local.format("%H:%M:%S"),
        zone_name(tz, at)
    )
}

/// Indonesia's zones by their usual names; others by chrono's abbreviation.
fn zone_name(tz: Tz, at: DateTime<Utc>) -> String {
    match tz {
        chrono_tz::Asia::Jakarta | chrono_tz::Asia::Pontianak => "WIB".into(),
        chrono_tz::Asia::Makassar => "WITA".into(),
        chrono_tz::Asia::Jayapura => "WIT".into(),
        _ => at.with_timezone(&tz).format("%Z").to_string(),
    }
}

/// A branch's zone; UTC if the stored name is not one chrono knows.
pub fn tz(name: &str) -> Tz {
    name.parse().unwrap_or(Tz::UTC)
}

/// Percent-encodes a query value.
pub fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The short start of a hex string, for tables (the full value is in the
/// title and on the receipt page).
pub fn short_hex(s: &str) -> String {
    s.chars().take(12).collect::<String>() + "…"
}

/// Which navigation item is current.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Branch,
    Receipts,
    Conflicts,
    Reports,
    Audit,
    Catalog,
    Settings,
    Devices,
    People,
    Users,
}

/// The frame every signed-in page shares.
pub fn page(s: &Session, nav: Nav, title: &str, back: &str, body: Markup) -> Markup {
    let l = s.lang;
    html! {
        (DOCTYPE)
        html lang=(l.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — Sentra Head Office" }
                link rel="stylesheet" href="/office/assets/office.css";
                script src="/office/assets/chart.umd.min.js" defer {}
                script src="/office/assets/office.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/office" { "Sentra " span { (l.t("Kantor Pusat", "Head Office")) } }
                    nav {
                        a href="/office" class=[(nav == Nav::Overview).then_some("on")] { (l.t("Ringkasan", "Overview")) }
                        @for b in &s.branches {
                            a href={ "/office/branches/" (b.code) } class=[(nav == Nav::Branch && title.contains(&b.code)).then_some("on")] { (b.code) }
                        }
                        a href="/office/receipts" class=[(nav == Nav::Receipts).then_some("on")] { (l.t("Struk", "Receipts")) }
                        a href="/office/conflicts" class=[(nav == Nav::Conflicts).then_some("on")] { (l.t("Konflik", "Conflicts")) }
                        a href="/office/reports" class=[(nav == Nav::Reports).then_some("on")] { (l.t("Laporan", "Reports")) }
                        a href="/office/catalog" class=[(nav == Nav::Catalog).then_some("on")] { (l.t("Katalog", "Catalog")) }
                        a href="/office/settings" class=[(nav == Nav::Settings).then_some("on")] { (l.t("Pengaturan", "Settings")) }
                        a href="/office/devices" class=[(nav == Nav::Devices).then_some("on")] { (l.t("Perangkat", "Devices")) }
                        a href="/office/people" class=[(nav == Nav::People).then_some("on")] { (l.t("Kasir", "Cashiers")) }
                        @if s.role.manages_office_users() {
                            a href="/office/users" class=[(nav == Nav::Users).then_some("on")] { (l.t("Pengguna", "Users")) }
                        }
                        @if s.role.sees_audit_log() {
                            a href="/office/audit" class=[(nav == Nav::Audit).then_some("on")] { (l.t("Log audit", "Audit log")) }
                        }
                    }
                    div.who {
                        span.user title=(s.role.as_str()) { (s.email) " · " (s.role.label(l)) }
                        form method="post" action="/office/lang" {
                            input type="hidden" name="csrf" value=(s.csrf);
                            input type="hidden" name="back" value=(back);
                            @if l == Lang::Id {
                                button.link name="lang" value="en" { "English" }
                            } @else {
                                button.link name="lang" value="id" { "Bahasa Indonesia" }
                            }
                        }
                        form method="post" action="/office/signout" {
                            input type="hidden" name="csrf" value=(s.csrf);
                            button.link id="signout" { (l.t("Keluar", "Sign out")) }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A page without the frame (sign-in, errors).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="id" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — Sentra Head Office" }
                link rel="stylesheet" href="/office/assets/office.css";
            }
            body.bare { main.narrow { (body) } }
        }
    }
}

pub fn error_page(status: StatusCode, msg: &str) -> Markup {
    bare(
        status.canonical_reason().unwrap_or("Error"),
        html! {
            h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) }
            p.error { (msg) }
            p { a href="/office" { "Kantor Pusat / Head Office" } }
        },
    )
}

/// A chart drawn by Chart.js (bundled) from data in attributes: no inline
/// script, so the Content-Security-Policy stays `script-src 'self'`.
pub fn bar_chart(id: &str, label: &str, labels: &[String], values: &[f64]) -> Markup {
    let data = serde_json::json!({ "label": label, "labels": labels, "values": values });
    html! {
        div.chart { canvas id=(id) data-chart=(data.to_string()) role="img" aria-label=(label) {} }
    }
}
