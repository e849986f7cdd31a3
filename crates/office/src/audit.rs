//! The audit log: append (the database refuses UPDATE, DELETE and TRUNCATE
//! on it) and the page that shows it to auditors and admins.

use axum::extract::State;
use axum::http::Uri;
use chrono::{DateTime, NaiveDate, Utc};
use maud::{Markup, html};
use uuid::Uuid;

use crate::Office;
use crate::auth::Session;
use crate::error::{OfficeError, Result};
use crate::form::Form;
use crate::scope;
use crate::ui::{self, Nav};

/// One line of the audit log.
#[derive(Clone, Debug, Default)]
pub struct Record {
    pub actor_id: Option<Uuid>,
    pub actor_email: Option<String>,
    pub address: Option<String>,
    pub action: String,
    pub branch_id: Option<i32>,
    pub target: Option<String>,
    pub old_value: Option<serde_json::Value>,
    pub new_value: Option<serde_json::Value>,
}

impl Record {
    /// An action by the signed-in user.
    pub fn by(s: &Session, action: &str) -> Record {
        Record {
            actor_id: Some(s.user_id),
            actor_email: Some(s.email.clone()),
            address: s.address.clone(),
            action: action.to_owned(),
            ..Record::default()
        }
    }

    /// An action by someone not (yet) signed in, named by the email typed.
    pub fn by_email(email: &str, address: Option<String>, action: &str) -> Record {
        Record {
            actor_email: Some(email.to_owned()),
            address,
            action: action.to_owned(),
            ..Record::default()
        }
    }

    pub fn with_new(mut self, v: serde_json::Value) -> Record {
        self.new_value = Some(v);
        self
    }
}

/// Appends `r`.
pub async fn append<'e, E>(db: E, r: &Record) -> Result<()>
where
    E: sqlx::Executor<'e, Database = sqlx::Postgres>,
{
    sqlx::query(
        "INSERT INTO audit_log (actor_id, actor_email, address, action, branch_id, target, old_value, new_value)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(r.actor_id)
    .bind(&r.actor_email)
    .bind(&r.address)
    .bind(&r.action)
    .bind(r.branch_id)
    .bind(&r.target)
    .bind(&r.old_value)
    .bind(&r.new_value)
    .execute(db)
    .await?;
    Ok(())
}

type Row = (
    i64,
    DateTime<Utc>,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<serde_json::Value>,
    Option<serde_json::Value>,
);

/// `GET /office/audit?action=&actor=&from=&to=`.
pub async fn page(State(office): State<Office>, s: Session, uri: Uri) -> Result<Markup> {
    if !s.role.sees_audit_log() {
        return Err(OfficeError::Forbidden(
            "The audit log is for auditors and admins.",
        ));
    }
    let q = Form::query(&uri)?;
    let l = s.lang;
    let action = q.text("action").map(str::to_owned);
    let actor = q.text("actor").map(str::to_lowercase);
    let from = q.text("from").map(scope::parse_date).transpose()?;
    let to = q.text("to").map(scope::parse_date).transpose()?;
    let mut tx = scope::read(&office, &s).await?;
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT a.audit_id, a.at, a.actor_email, a.address, a.action, b.code, a.target, a.old_value, a.new_value
         FROM audit_log a LEFT JOIN branches b ON b.branch_id = a.branch_id
         WHERE ($1::text IS NULL OR a.action = $1)
           AND ($2::text IS NULL OR a.actor_email = $2)
           AND ($3::date IS NULL OR a.at >= $3::date)
           AND ($4::date IS NULL OR a.at < $4::date + 1)
         ORDER BY a.audit_id DESC LIMIT 500",
    )
    .bind(&action)
    .bind(&actor)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let tz = s.branches.first().map_or(chrono_tz::Tz::UTC, |b| b.tz);
    let actions = [
        "signin",
        "signin_failed",
        "signin_throttled",
        "signout",
        "office_user_set",
        "conflict_resolved",
        "conflict_dismissed",
        "export",
    ];
    let body = html! {
        form.filters method="get" action="/office/audit" {
            label { (l.t("Tindakan", "Action"))
                select name="action" {
                    option value="" { (l.t("semua", "all")) }
                    @for a in actions { option value=(a) selected[action.as_deref() == Some(a)] { (a) } }
                }
            }
            label { (l.t("Oleh (email)", "By (email)")) input type="text" name="actor" value=(actor.clone().unwrap_or_default()); }
            (date_inputs(l, from, to))
            button type="submit" { (l.t("Saring", "Filter")) }
        }
        p.muted { (l.t("Log ini hanya bisa ditambah: basis data menolak UPDATE dan DELETE.", "Append-only: the database refuses UPDATE and DELETE on this log.")) }
        div.scroll {
            table #audit {
                thead { tr {
                    th { "#" } th { (l.t("Waktu", "When")) } th { (l.t("Oleh", "Who")) } th { (l.t("Dari", "From")) }
                    th { (l.t("Tindakan", "Action")) } th { (l.t("Cabang", "Branch")) } th { (l.t("Objek", "Target")) }
                    th { (l.t("Lama", "Old")) } th { (l.t("Baru", "New")) }
                } }
                tbody {
                    @for r in &rows {
                        tr data-action=(r.4) {
                            td { (r.0) }
                            td { (ui::datetime(l, r.1, tz)) }
                            td { (r.2.clone().unwrap_or_default()) }
                            td { (r.3.clone().unwrap_or_default()) }
                            td { code { (r.4) } }
                            td { (r.5.clone().unwrap_or_default()) }
                            td.target { (r.6.clone().unwrap_or_default()) }
                            td.json { (r.7.as_ref().map(key_values).unwrap_or_default()) }
                            td.json { (r.8.as_ref().map(key_values).unwrap_or_default()) }
                        }
                    }
                    @if rows.is_empty() { tr { td colspan="9" { (l.t("Tidak ada catatan.", "No records.")) } } }
                }
            }
        }
    };
    Ok(ui::page(
        &s,
        Nav::Audit,
        l.t("Log audit", "Audit log"),
        "/office/audit",
        body,
    ))
}

/// An old or new value as `key: value` lines (one level; deeper values as
/// compact JSON), so a reader sees what changed without parsing JSON.
fn key_values(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}: {s}"),
                other => format!("{k}: {other}"),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    }
}

/// The from/to date inputs every filter form has.
pub fn date_inputs(l: ui::Lang, from: Option<NaiveDate>, to: Option<NaiveDate>) -> Markup {
    html! {
        label { (l.t("Dari tanggal", "From")) input type="date" name="from" value=(from.map(|d| d.to_string()).unwrap_or_default()); }
        label { (l.t("Sampai", "To")) input type="date" name="to" value=(to.map(|d| d.to_string()).unwrap_or_default()); }
    }
}
