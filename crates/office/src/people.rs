//! Cashiers and supervisors of the caller's branches (`GET /office/people`),
//! and the office users (`GET /office/users`, admins only).
//!
//! A till person's PIN is typed by the person into the page (twice), checked
//! against the till's rule (`sentra_domain::pin`: 4–8 digits, 6–8 for a
//! supervisor), stored only as an Argon2id hash, never shown again, and
//! reaches the tills of the branch through pull — they verify it offline.
//! Disabling a person keeps their history and stops their sign-in at the
//! next sync. Every change leaves an audit record with old and new values
//! (a PIN appears there only as "changed").

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde_json::json;
use uuid::Uuid;

use crate::Office;
use crate::audit;
use crate::auth::{Role, Session, hash_password};
use crate::error::{OfficeError, Result};
use crate::form::Form;
use crate::scope;
use crate::ui::{self, Nav};

fn may_manage(s: &Session) -> Result<()> {
    if s.role.manages_branches() {
        Ok(())
    } else {
        Err(OfficeError::Forbidden(
            "Only admins and the branch's managers manage its cashiers.",
        ))
    }
}

/// The PIN typed twice, checked for `role`, hashed (Argon2id, off the async
/// threads).
async fn pin_hash(form: &Form, role: &str) -> Result<String> {
    let pin = form.get("pin").unwrap_or("");
    if pin != form.get("pin2").unwrap_or("") {
        return Err(OfficeError::BadInput(
            "the two PINs differ (PIN tidak sama)".into(),
        ));
    }
    sentra_domain::pin::check_pin(pin, role).map_err(OfficeError::BadInput)?;
    let pin = pin.to_owned();
    tokio::task::spawn_blocking(move || hash_password(&pin))
        .await
        .map_err(|e| OfficeError::Internal(format!("PIN hashing: {e}")))?
        .map_err(|e| OfficeError::Internal(format!("PIN hashing: {e}")))
}

fn person_name(form: &Form) -> Result<String> {
    let name = form.text("name").unwrap_or("");
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(OfficeError::BadInput(
            "a name is 1 to 100 characters, without control characters".into(),
        ));
    }
    Ok(name.to_owned())
}

fn till_role(form: &Form) -> Result<&'static str> {
    match form.get("role") {
        Some("supervisor") => Ok("supervisor"),
        Some("cashier") | None => Ok("cashier"),
        Some(other) => Err(OfficeError::BadInput(format!(
            "role {other:?} must be cashier or supervisor"
        ))),
    }
}

type PersonRow = (
    Uuid,
    Option<String>,
    String,
    String,
    bool,
    Option<String>,
    DateTime<Utc>,
);

/// `GET /office/people?branch=`.
pub async fn page(State(office): State<Office>, s: Session, uri: Uri) -> Result<Markup> {
    let q = Form::query(&uri)?;
    let l = s.lang;
    let only = match q.text("branch") {
        None => None,
        Some(code) => Some(s.branch(code).ok_or(OfficeError::NotFound)?.id),
    };
    let mut tx = scope::read(&office, &s).await?;
    let rows: Vec<PersonRow> = sqlx::query_as(
        "SELECT c.user_id, b.code, c.name, c.role, c.active, c.disabled_reason, c.updated_at
         FROM cashiers c LEFT JOIN branches b USING (branch_id)
         WHERE $1::integer IS NULL OR c.branch_id = $1
         ORDER BY b.code NULLS FIRST, c.active DESC, c.name",
    )
    .bind(only)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let manage = s.role.manages_branches();
    let tz = s
        .branches
        .first()
        .map_or(chrono_tz::Asia::Jakarta, |b| b.tz);
    let body = html! {
        @if let Some(done) = q.text("done") {
            p.ok #done { (match done {
                "pin" => l.t("PIN disimpan. Berlaku di kasir setelah sinkronisasi berikutnya.", "PIN saved. It works on the tills after their next sync."),
                "added" => l.t("Kasir ditambahkan. Bisa masuk di kasir setelah sinkronisasi berikutnya.", "Person added. They can sign in on the tills after their next sync."),
                _ => l.t("Disimpan.", "Saved."),
            }) }
        }
        @if manage {
            h2 { (l.t("Tambah kasir atau supervisor", "Add a cashier or supervisor")) }
            form.filters #add-person method="post" action="/office/people" autocomplete="off" {
                input type="hidden" name="csrf" value=(s.csrf);
                label { (l.t("Cabang", "Branch"))
                    select name="branch" { @for b in &s.branches { option value=(b.code) { (b.code) } } } }
                label { (l.t("Nama", "Name")) input name="name" required maxlength="100"; }
                label { (l.t("Peran", "Role"))
                    select name="role" {
                        option value="cashier" { (l.t("kasir", "cashier")) }
                        option value="supervisor" { "supervisor" }
                    } }
                label { "PIN" input type="password" name="pin" inputmode="numeric" required autocomplete="new-password"; }
                label { (l.t("Ulangi PIN", "PIN again")) input type="password" name="pin2" inputmode="numeric" required autocomplete="new-password"; }
                button { (l.t("Tambah", "Add")) }
            }
            p.muted { (l.t("PIN diketik sendiri oleh orangnya: kasir 4–8 angka, supervisor 6–8 angka. PIN tidak pernah ditampilkan lagi.",
                           "The person types their own PIN: 4–8 digits for a cashier, 6–8 for a supervisor. It is never shown again.")) }
        }
        table #people {
            thead { tr {
                th { (l.t("Cabang", "Branch")) } th { (l.t("Nama", "Name")) } th { (l.t("Peran", "Role")) }
                th { (l.t("Status", "Status")) } th { (l.t("Diubah", "Changed")) }
                @if manage { th { (l.t("Tindakan", "Actions")) } }
            } }
            tbody {
                @for r in &rows {
                    tr data-person=(r.2) {
                        td { (r.1.as_deref().unwrap_or(l.t("semua cabang", "every branch"))) }
                        td { (r.2) }
                        td { (if r.3 == "supervisor" { "supervisor" } else { l.t("kasir", "cashier") }) }
                        td { @if r.4 { span.ok { (l.t("aktif", "active")) } } @else {
                            span.bad { (l.t("nonaktif", "disabled")) } @if let Some(why) = &r.5 { br; small { (why) } } } }
                        td { (ui::datetime(l, r.6, tz)) }
                        @if manage {
                            td {
                                form.inline.pin method="post" action={ "/office/people/" (r.0) "/pin" } autocomplete="off" {
                                    input type="hidden" name="csrf" value=(s.csrf);
                                    input type="password" name="pin" inputmode="numeric" placeholder=(l.t("PIN baru", "new PIN")) required autocomplete="new-password";
                                    input type="password" name="pin2" inputmode="numeric" placeholder=(l.t("ulangi", "again")) required autocomplete="new-password";
                                    button { (l.t("Atur ulang PIN", "Reset PIN")) }
                                }
                                @if r.4 {
                                    form.inline method="post" action={ "/office/people/" (r.0) "/active" } {
                                        input type="hidden" name="csrf" value=(s.csrf);
                                        input type="hidden" name="active" value="0";
                                        input name="reason" placeholder=(l.t("alasan", "reason")) required maxlength="500";
                                        button.danger { (l.t("Nonaktifkan", "Disable")) }
                                    }
                                } @else {
                                    form.inline method="post" action={ "/office/people/" (r.0) "/active" } {
                                        input type="hidden" name="csrf" value=(s.csrf);
                                        input type="hidden" name="active" value="1";
                                        button { (l.t("Aktifkan", "Enable")) }
                                    }
                                }
                            }
                        }
                    }
                }
                @if rows.is_empty() { tr { td colspan="6" { (l.t("Belum ada kasir.", "No cashiers yet.")) } } }
            }
        }
    };
    Ok(ui::page(
        &s,
        Nav::People,
        l.t("Kasir dan supervisor", "Cashiers and supervisors"),
        "/office/people",
        body,
    ))
}

/// `POST /office/people` (`branch`, `name`, `role`, `pin`, `pin2`).
pub async fn add(State(office): State<Office>, s: Session, form: Form) -> Result<Response> {
    s.check_csrf(&form)?;
    may_manage(&s)?;
    let b = s
        .branch(form.get("branch").unwrap_or(""))
        .ok_or(OfficeError::Forbidden(
            "You may not add people to that branch.",
        ))?
        .clone();
    let name = person_name(&form)?;
    let role = till_role(&form)?;
    let hash = pin_hash(&form, role).await?;
    let id = Uuid::now_v7();
    let mut tx = scope::write(&office, &s).await?;
    sqlx::query(
        "INSERT INTO cashiers (user_id, branch_id, name, role, pin_hash) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(b.id)
    .bind(&name)
    .bind(role)
    .bind(&hash)
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut *tx,
        &audit::Record {
            branch_id: Some(b.id),
            target: Some(format!("cashier {id} ({name})")),
            new_value: Some(
                json!({"branch": b.code, "name": name, "role": role, "active": true, "pin": "set"}),
            ),
            ..audit::Record::by(&s, "cashier_added")
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/office/people?done=added").into_response())
}

type Person = (Option<i32>, String, String, bool, Option<String>);

async fn person(tx: &mut sqlx::PgConnection, id: Uuid) -> Result<Person> {
    sqlx::query_as(
        "SELECT branch_id, name, role, active, disabled_reason FROM cashiers
         WHERE user_id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(OfficeError::NotFound)
}

/// `POST /office/people/{id}/pin` (`pin`, `pin2`).
pub async fn reset_pin(
    State(office): State<Office>,
    s: Session,
    Path(id): Path<Uuid>,
    form: Form,
) -> Result<Response> {
    s.check_csrf(&form)?;
    may_manage(&s)?;
    let mut tx = scope::write(&office, &s).await?;
    let p = person(&mut tx, id).await?;
    let hash = pin_hash(&form, &p.2).await?;
    sqlx::query("UPDATE cashiers SET pin_hash = $2, updated_at = now() WHERE user_id = $1")
        .bind(id)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
    audit::append(
        &mut *tx,
        &audit::Record {
            branch_id: p.0,
            target: Some(format!("cashier {id} ({})", p.1)),
            old_value: Some(json!({"pin": "previous"})),
            new_value: Some(json!({"pin": "changed"})),
            ..audit::Record::by(&s, "cashier_pin_reset")
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/office/people?done=pin").into_response())
}

/// `POST /office/people/{id}/active` (`active` 0 or 1, `reason` to disable).
pub async fn set_active(
    State(office): State<Office>,
    s: Session,
    Path(id): Path<Uuid>,
    form: Form,
) -> Result<Response> {
    s.check_csrf(&form)?;
    may_manage(&s)?;
    let active = form.get("active") == Some("1");
    let reason = if active {
        None
    } else {
        Some(form.reason("reason")?)
    };
    let mut tx = scope::write(&office, &s).await?;
    let p = person(&mut tx, id).await?;
    if p.3 != active {
        sqlx::query(
            "UPDATE cashiers SET active = $2, disabled_reason = $3, updated_at = now() WHERE user_id = $1",
        )
        .bind(id)
        .bind(active)
        .bind(&reason)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut *tx,
            &audit::Record {
                branch_id: p.0,
                target: Some(format!("cashier {id} ({})", p.1)),
                old_value: Some(json!({"active": p.3, "reason": p.4})),
                new_value: Some(json!({"active": active, "reason": reason})),
                ..audit::Record::by(
                    &s,
                    if active {
                        "cashier_enabled"
                    } else {
                        "cashier_disabled"
                    },
                )
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Redirect::to("/office/people?done=saved").into_response())
}

fn admin_only(s: &Session) -> Result<()> {
    if s.role.manages_office_users() {
        Ok(())
    } else {
        Err(OfficeError::Forbidden(
            "Only an admin manages office users.",
        ))
    }
}

type OfficeUserRow = (
    Uuid,
    String,
    String,
    bool,
    Option<DateTime<Utc>>,
    Vec<String>,
);

/// `GET /office/users` (admins).
pub async fn users_page(State(office): State<Office>, s: Session, uri: Uri) -> Result<Markup> {
    admin_only(&s)?;
    let q = Form::query(&uri)?;
    let l = s.lang;
    let mut tx = scope::read(&office, &s).await?;
    let rows: Vec<OfficeUserRow> = sqlx::query_as(
        "SELECT u.user_id, u.email, u.role, u.active, u.last_signin_at,
                COALESCE(array_agg(b.code ORDER BY b.code) FILTER (WHERE b.code IS NOT NULL), '{}')
         FROM office_users u
         LEFT JOIN office_user_branches ub ON ub.user_id = u.user_id
         LEFT JOIN branches b ON b.branch_id = ub.branch_id
         GROUP BY u.user_id ORDER BY u.email",
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let roles = [Role::Admin, Role::Finance, Role::Manager, Role::Auditor];
    let tz = chrono_tz::Asia::Jakarta;
    let body = html! {
        @if q.text("done").is_some() { p.ok #done { (l.t("Disimpan.", "Saved.")) } }
        h2 { (l.t("Tambah pengguna kantor", "Add an office user")) }
        form.filters #add-user method="post" action="/office/users" autocomplete="off" {
            input type="hidden" name="csrf" value=(s.csrf);
            label { "Email" input type="email" name="email" required maxlength="254"; }
            label { (l.t("Peran", "Role"))
                select name="role" { @for r in roles { option value=(r.as_str()) { (r.label(l)) } } } }
            label { (l.t("Cabang (manajer)", "Branches (managers)"))
                select name="branches" multiple size="3" { @for b in &s.branches { option value=(b.code) { (b.code) } } } }
            label { (l.t("Kata sandi awal (min. 10)", "Initial password (min. 10)"))
                input type="password" name="password" required minlength="10" autocomplete="new-password"; }
            button { (l.t("Tambah", "Add")) }
        }
        table #users {
            thead { tr { th { "Email" } th { (l.t("Peran", "Role")) } th { (l.t("Cabang", "Branches")) } th { (l.t("Status", "Status")) } th { (l.t("Terakhir masuk", "Last sign-in")) } th { (l.t("Ubah", "Change")) } } }
            tbody {
                @for r in &rows {
                    tr data-user=(r.1) {
                        td { (r.1) }
                        td { (Role::parse(&r.2).map_or(r.2.as_str(), |x| x.label(l))) }
                        td { @if r.5.is_empty() { (l.t("semua", "all")) } @else { (r.5.join(", ")) } }
                        td { @if r.3 { span.ok { (l.t("aktif", "active")) } } @else { span.bad { (l.t("nonaktif", "disabled")) } } }
                        td { (r.4.map_or("—".into(), |t| ui::datetime(l, t, tz))) }
                        td {
                            form.inline method="post" action={ "/office/users/" (r.0) } {
                                input type="hidden" name="csrf" value=(s.csrf);
                                select name="role" { @for x in roles { option value=(x.as_str()) selected[x.as_str() == r.2] { (x.label(l)) } } }
                                select name="branches" multiple size="2" { @for b in &s.branches { option value=(b.code) selected[r.5.contains(&b.code)] { (b.code) } } }
                                label.check { input type="checkbox" name="active" value="1" checked[r.3]; (l.t("aktif", "active")) }
                                button { (l.t("Simpan", "Save")) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(ui::page(
        &s,
        Nav::Users,
        l.t("Pengguna kantor", "Office users"),
        "/office/users",
        body,
    ))
}

fn role_and_branches(s: &Session, form: &Form) -> Result<(Role, Vec<crate::BranchRef>)> {
    let role = Role::parse(form.get("role").unwrap_or("")).ok_or_else(|| {
        OfficeError::BadInput("role must be admin, finance, manager or auditor".into())
    })?;
    let mut branches = Vec::new();
    for code in form.all("branches") {
        branches.push(
            s.branch(code)
                .ok_or_else(|| OfficeError::BadInput(format!("no branch {code}")))?
                .clone(),
        );
    }
    if role == Role::Manager && branches.is_empty() {
        return Err(OfficeError::BadInput(
            "a manager sees only the branches chosen for them: choose at least one".into(),
        ));
    }
    if role != Role::Manager {
        branches.clear();
    }
    Ok((role, branches))
}

/// `POST /office/users` (`email`, `role`, `branches`, `password`).
pub async fn add_user(State(office): State<Office>, s: Session, form: Form) -> Result<Response> {
    s.check_csrf(&form)?;
    admin_only(&s)?;
    let email = form.text("email").unwrap_or("").to_lowercase();
    if !(3..=254).contains(&email.len())
        || !email.contains('@')
        || email.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(OfficeError::BadInput(format!(
            "{email:?} is not an email address"
        )));
    }
    let (role, branches) = role_and_branches(&s, &form)?;
    let password = form.get("password").unwrap_or("").to_owned();
    if password.chars().count() < crate::users::MIN_PASSWORD_CHARS {
        return Err(OfficeError::BadInput(format!(
            "the password must be at least {} characters",
            crate::users::MIN_PASSWORD_CHARS
        )));
    }
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| OfficeError::Internal(format!("hashing: {e}")))?
        .map_err(|e| OfficeError::Internal(format!("hashing: {e}")))?;
    let mut tx = scope::write(&office, &s).await?;
    let taken: Option<bool> = sqlx::query_scalar("SELECT true FROM office_users WHERE email = $1")
        .bind(&email)
        .fetch_optional(&mut *tx)
        .await?;
    if taken.is_some() {
        return Err(OfficeError::BadInput(format!(
            "{email} is already an office user"
        )));
    }
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO office_users (user_id, email, role, password_hash) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(&email)
    .bind(role.as_str())
    .bind(&hash)
    .execute(&mut *tx)
    .await?;
    for b in &branches {
        sqlx::query("INSERT INTO office_user_branches (user_id, branch_id) VALUES ($1, $2)")
            .bind(id)
            .bind(b.id)
            .execute(&mut *tx)
            .await?;
    }
    let codes: Vec<&str> = branches.iter().map(|b| b.code.as_str()).collect();
    audit::append(
        &mut *tx,
        &audit::Record {
            target: Some(format!("office user {email}")),
            new_value: Some(
                json!({"email": email, "role": role.as_str(), "branches": codes, "active": true}),
            ),
            ..audit::Record::by(&s, "office_user_added")
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/office/users?done=1").into_response())
}

/// `POST /office/users/{id}` (`role`, `branches`, `active`).
pub async fn save_user(
    State(office): State<Office>,
    s: Session,
    Path(id): Path<Uuid>,
    form: Form,
) -> Result<Response> {
    s.check_csrf(&form)?;
    admin_only(&s)?;
    let (role, branches) = role_and_branches(&s, &form)?;
    let active = form.get("active") == Some("1");
    if id == s.user_id && (role != Role::Admin || !active) {
        return Err(OfficeError::BadInput(
            "you cannot take away your own admin role or disable yourself; ask another admin"
                .into(),
        ));
    }
    let mut tx = scope::write(&office, &s).await?;
    let old: Option<(String, String, bool, Vec<String>)> = sqlx::query_as(
        "SELECT u.email, u.role, u.active,
                COALESCE(array_agg(b.code ORDER BY b.code) FILTER (WHERE b.code IS NOT NULL), '{}')
         FROM office_users u
         LEFT JOIN office_user_branches ub ON ub.user_id = u.user_id
         LEFT JOIN branches b ON b.branch_id = ub.branch_id
         WHERE u.user_id = $1 GROUP BY u.user_id",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((email, old_role, old_active, old_branches)) = old else {
        return Err(OfficeError::NotFound);
    };
    let codes: Vec<String> = branches.iter().map(|b| b.code.clone()).collect();
    if (old_role.as_str(), old_active, &old_branches) != (role.as_str(), active, &codes) {
        sqlx::query("UPDATE office_users SET role = $2, active = $3 WHERE user_id = $1")
            .bind(id)
            .bind(role.as_str())
            .bind(active)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM office_user_branches WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for b in &branches {
            sqlx::query("INSERT INTO office_user_branches (user_id, branch_id) VALUES ($1, $2)")
                .bind(id)
                .bind(b.id)
                .execute(&mut *tx)
                .await?;
        }
        // A changed role or a disabled account takes effect now: end the
        // user's sessions.
        sqlx::query(
            "UPDATE office_sessions SET ended_at = now() WHERE user_id = $1 AND ended_at IS NULL",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut *tx,
            &audit::Record {
                target: Some(format!("office user {email}")),
                old_value: Some(
                    json!({"role": old_role, "active": old_active, "branches": old_branches}),
                ),
                new_value: Some(
                    json!({"role": role.as_str(), "active": active, "branches": codes}),
                ),
                ..audit::Record::by(&s, "office_user_changed")
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Redirect::to("/office/users?done=1").into_response())
}
