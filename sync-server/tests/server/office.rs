//! The head-office pages' security, over real HTTP against a real server on
//! a real PostgreSQL: sessions, CSRF, cookie flags, sign-in throttling,
//! injection in every filter, row-level security, the proof badges and the
//! append-only audit log. (The browser tests in `tests/` drive the same
//! pages in Chromium.)

use crate::common;

use common::office::{OfficeClient, add_user};
use common::{Device, Server, sale};
use sentra_protocol::payload::ShiftOpened;
use sentra_protocol::wire::DeviceKind;
use uuid::Uuid;

const PW: &str = "a-long-password-1";

struct Fixture {
    s: Server,
    jkt_sale: Uuid,
    bdg_sale: Uuid,
    bdg_device: Uuid,
    jkt_branch: i32,
}

async fn push_all(s: &Server, d: &Device, entries: &[sentra_protocol::Entry]) {
    let (status, body) = s.push(&d.credential, entries, None).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["refused"].as_array().is_none_or(Vec::is_empty),
        "{body}"
    );
}

/// Two branches with a till each, a shift, two sales (one at a stale
/// price), and the four kinds of office user.
async fn fixture(office: sentra_office::OfficeConfig) -> Fixture {
    let s = Server::start_office(office).await;
    let jkt_branch = s.branch("JKT01").await;
    s.branch("BDG01").await;
    sqlx::query(
        "INSERT INTO products (sku, name, tax_category) VALUES ('KOPI', 'Kopi Susu', 'standard')",
    )
    .execute(&s.pool)
    .await
    .expect("product");
    sqlx::query("INSERT INTO prices (sku, branch_id, price, effective_from) VALUES ('KOPI', NULL, 15000, now() - interval '1 day')")
        .execute(&s.pool)
        .await
        .expect("price");
    let mut sales = Vec::new();
    let mut devices = Vec::new();
    for (branch, seed) in [("JKT01", 1u8), ("BDG01", 2u8)] {
        let mut t = s.enroll(branch, DeviceKind::Terminal, seed).await;
        let shift = Uuid::now_v7();
        let open = t.entry(&ShiftOpened {
            shift_id: shift,
            opening_float: 100_000,
            cashier: Some("Siti".into()),
        });
        let good = t.entry(&sale(
            &format!("{branch}-R-1"),
            shift,
            &[("KOPI", 1000, 15000)],
        ));
        let stale = t.entry(&sale(
            &format!("{branch}-R-2"),
            shift,
            &[("KOPI", 7000, 14000)],
        ));
        push_all(&s, &t, &[open, good.clone(), stale]).await;
        sales.push(good.id);
        devices.push(t.device_id);
    }
    add_user(&s.pool, "admin@x.test", "admin", &[], PW).await;
    add_user(&s.pool, "finance@x.test", "finance", &[], PW).await;
    add_user(&s.pool, "jkt@x.test", "manager", &["JKT01"], PW).await;
    add_user(&s.pool, "auditor@x.test", "auditor", &[], PW).await;
    Fixture {
        jkt_sale: sales[0],
        bdg_sale: sales[1],
        bdg_device: devices[1],
        jkt_branch,
        s,
    }
}

#[tokio::test]
async fn every_office_path_but_sign_in_refuses_without_a_session() {
    let f = fixture(Default::default()).await;
    let mut c = OfficeClient::new(&f.s.url);
    let gets = [
        "/office".to_owned(),
        "/office/".to_owned(),
        "/office/branches/JKT01".to_owned(),
        "/office/receipts".to_owned(),
        format!("/office/receipts/JKT01/{}", f.jkt_sale),
        format!("/office/devices/{}/verify", f.bdg_device),
        "/office/conflicts".to_owned(),
        "/office/audit".to_owned(),
    ];
    for p in &gets {
        let r = c.get(p).await;
        assert_eq!(r.status, 303, "GET {p}");
        let to = r.location.unwrap_or_default();
        assert!(to.starts_with("/office/signin?next="), "GET {p} → {to}");
        assert!(!r.body.contains("JKT01-R-1"), "GET {p} leaked a receipt");
    }
    for p in [
        "/office/signout",
        "/office/lang",
        "/office/conflicts/decide",
    ] {
        let r = c.post(p, &[("csrf", "x")]).await;
        assert_eq!(r.status, 401, "POST {p}");
    }
    // A forged or ended session is no session.
    c.cookies.push(("sentra_office".into(), "00".repeat(32)));
    assert_eq!(c.get("/office").await.status, 303);
    assert_eq!(c.get("/office/signin").await.status, 200);
    f.s.stop().await;
}

#[tokio::test]
async fn cookies_are_http_only_same_site_strict_and_secure_when_configured() {
    for secure in [false, true] {
        let f = fixture(sentra_office::OfficeConfig {
            secure_cookies: secure,
            ..Default::default()
        })
        .await;
        let mut c = OfficeClient::new(&f.s.url);
        let p = c.sign_in("admin@x.test", PW).await;
        assert_eq!(p.status, 303);
        let session = p
            .set_cookies
            .iter()
            .find(|c| c.starts_with("sentra_office="))
            .expect("session cookie");
        for flag in ["HttpOnly", "SameSite=Strict", "Path=/office", "Max-Age="] {
            assert!(session.contains(flag), "{session} lacks {flag}");
        }
        assert_eq!(session.contains("Secure"), secure, "{session}");
        f.s.stop().await;
    }
}

#[tokio::test]
async fn state_changing_requests_without_a_valid_csrf_token_are_refused() {
    let f = fixture(Default::default()).await;
    // Sign-in itself: the form's token must match its cookie.
    let mut c = OfficeClient::new(&f.s.url);
    c.get("/office/signin").await;
    let r = c
        .post(
            "/office/signin",
            &[
                ("csrf", "wrong"),
                ("email", "admin@x.test"),
                ("password", PW),
            ],
        )
        .await;
    assert_eq!(r.status, 403, "sign-in without the form's token");
    assert!(
        !r.set_cookies
            .iter()
            .any(|c| c.starts_with("sentra_office="))
    );

    let mut fin = OfficeClient::signed_in(&f.s.url, "finance@x.test", PW).await;
    let id: Uuid = sqlx::query_scalar("SELECT conflict_id FROM conflicts WHERE branch_id = $1")
        .bind(f.jkt_branch)
        .fetch_one(&f.s.pool)
        .await
        .expect("a conflict");
    let target = format!("JKT01:{id}");
    for token in ["", "0000", &"a".repeat(64)] {
        let r = fin
            .post(
                "/office/conflicts/decide",
                &[
                    ("csrf", token),
                    ("id", &target),
                    ("decision", "resolved"),
                    ("comment", "ok"),
                ],
            )
            .await;
        assert_eq!(r.status, 403, "decide with csrf {token:?}");
    }
    let r = fin
        .post(
            "/office/conflicts/decide",
            &[("id", &target), ("decision", "resolved"), ("comment", "ok")],
        )
        .await;
    assert_eq!(r.status, 403, "decide without a csrf field");
    assert_eq!(
        f.s.count("SELECT count(*) FROM conflicts WHERE resolved_at IS NOT NULL")
            .await,
        0,
        "a refused request decided something"
    );
    // Sign-out without the token does not end the session.
    assert_eq!(
        fin.post("/office/signout", &[("csrf", "nope")])
            .await
            .status,
        403
    );
    assert_eq!(fin.get("/office").await.status, 200);
    f.s.stop().await;
}

#[tokio::test]
async fn sessions_end_at_sign_out_idle_and_absolute_expiry() {
    let f = fixture(Default::default()).await;
    let mut c = OfficeClient::signed_in(&f.s.url, "admin@x.test", PW).await;
    let kept = c.cookies.clone();
    let csrf = c.csrf.clone();
    let r = c.post("/office/signout", &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 303);
    // The old cookie, replayed, is worthless: the session ended server-side.
    c.cookies = kept;
    assert_eq!(
        c.get("/office").await.status,
        303,
        "a signed-out session still works"
    );

    for (what, sql) in [
        (
            "idle",
            "UPDATE office_sessions SET last_seen_at = now() - interval '31 minutes' WHERE ended_at IS NULL",
        ),
        (
            "absolute",
            "UPDATE office_sessions SET expires_at = now() - interval '1 second' WHERE ended_at IS NULL",
        ),
    ] {
        let mut c = OfficeClient::signed_in(&f.s.url, "admin@x.test", PW).await;
        sqlx::query(sql)
            .execute(&f.s.pool)
            .await
            .expect("age the session");
        assert_eq!(c.get("/office").await.status, 303, "{what} expiry");
    }
    f.s.stop().await;
}

#[tokio::test]
async fn ten_failed_sign_ins_throttle_the_account_and_are_audited() {
    let f = fixture(Default::default()).await;
    for i in 0..10 {
        let mut c = OfficeClient::new(&f.s.url);
        let r = c.sign_in("finance@x.test", "wrong-password-x").await;
        assert_eq!(r.status, 401, "attempt {i}");
    }
    // The right password no longer helps, for now.
    let mut c = OfficeClient::new(&f.s.url);
    let r = c.sign_in("finance@x.test", PW).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(
        !r.set_cookies
            .iter()
            .any(|c| c.starts_with("sentra_office="))
    );
    // Another account is not locked by it.
    OfficeClient::signed_in(&f.s.url, "admin@x.test", PW).await;
    let failed = f.s.count("SELECT count(*) FROM audit_log WHERE action = 'signin_failed' AND actor_email = 'finance@x.test'").await;
    assert_eq!(failed, 10);
    let throttled =
        f.s.count("SELECT count(*) FROM audit_log WHERE action = 'signin_throttled'")
            .await;
    assert_eq!(throttled, 1);
    f.s.stop().await;
}

#[tokio::test]
async fn injection_strings_in_every_filter_are_harmless() {
    let f = fixture(Default::default()).await;
    let mut admin = OfficeClient::signed_in(&f.s.url, "admin@x.test", PW).await;
    let mut mgr = OfficeClient::signed_in(&f.s.url, "jkt@x.test", PW).await;
    let sales_before = f.s.count("SELECT count(*) FROM sales").await;
    let nasty = [
        "' OR '1'='1",
        "1; DROP TABLE sales; --",
        "BDG01' OR branch_id <> 0 --",
        "%' UNION SELECT password_hash FROM office_users --",
        "<script>alert(1)</script>",
        "2026-01-01' OR 1=1 --",
        "\u{0}",
    ];
    let pages: [(&str, &[&str]); 5] = [
        ("/office", &["from", "to"]),
        ("/office/branches/JKT01", &["from", "to"]),
        (
            "/office/receipts",
            &["receipt", "branch", "till", "from", "to", "amount", "sku"],
        ),
        (
            "/office/conflicts",
            &["kind", "branch", "device", "from", "to", "status"],
        ),
        ("/office/audit", &["action", "actor", "from", "to"]),
    ];
    for (page, params) in pages {
        for p in params {
            for n in nasty {
                let q = format!("{page}?{p}={}", urlencode(n));
                for (who, c) in [("admin", &mut admin), ("manager", &mut mgr)] {
                    let r = c.get(&q).await;
                    assert!(
                        [200, 400, 403, 404].contains(&r.status),
                        "{who} GET {q}: {}",
                        r.status
                    );
                    assert!(
                        !r.body.contains("<script>alert"),
                        "{who} GET {q}: unescaped"
                    );
                    assert!(
                        !r.body.contains("$argon2id$"),
                        "{who} GET {q}: a hash leaked"
                    );
                    if who == "manager" {
                        assert!(!r.body.contains("BDG01-R"), "{who} GET {q}: saw BDG01");
                    }
                }
            }
        }
    }
    // Path segments too.
    for n in nasty {
        for p in [
            format!("/office/branches/{}", urlencode(n)),
            format!("/office/receipts/{}/{}", urlencode(n), f.jkt_sale),
            format!("/office/receipts/JKT01/{}", urlencode(n)),
            format!("/office/devices/{}/verify", urlencode(n)),
        ] {
            let r = admin.get(&p).await;
            assert!([400, 404].contains(&r.status), "GET {p}: {}", r.status);
        }
    }
    assert_eq!(f.s.count("SELECT count(*) FROM sales").await, sales_before);
    f.s.stop().await;
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_manager_of_jkt01_cannot_reach_bdg01_by_url_field_or_parameter() {
    let f = fixture(Default::default()).await;
    let mut m = OfficeClient::signed_in(&f.s.url, "jkt@x.test", PW).await;
    let overview = m.get("/office").await;
    assert!(overview.body.contains("JKT01"));
    assert!(!overview.body.contains("BDG01"), "the overview names BDG01");
    let bdg_conflict: Uuid = sqlx::query_scalar(
        "SELECT c.conflict_id FROM conflicts c JOIN branches b USING (branch_id) WHERE b.code = 'BDG01'",
    )
    .fetch_one(&f.s.pool)
    .await
    .expect("a BDG01 conflict");
    for p in [
        "/office/branches/BDG01".to_owned(),
        "/office/receipts?branch=BDG01".to_owned(),
        "/office/receipts?receipt=BDG01-R-1".to_owned(),
        format!("/office/receipts/BDG01/{}", f.bdg_sale),
        format!("/office/receipts/JKT01/{}", f.bdg_sale),
        format!("/office/devices/{}/verify", f.bdg_device),
        format!("/office/receipts?till={}", f.bdg_device),
        "/office/conflicts?branch=BDG01".to_owned(),
        format!("/office/conflicts?device={}", f.bdg_device),
        "/office/conflicts?status=all".to_owned(),
    ] {
        let r = m.get(&p).await;
        assert!(
            [200, 400, 403, 404].contains(&r.status),
            "GET {p}: {}",
            r.status
        );
        // What the manager typed is echoed in the search box; nothing else.
        let page = r
            .body
            .replace("value=\"BDG01-R-1\"", "")
            .replace(&format!("value=\"{}\"", f.bdg_device), "")
            .replace(&format!("?device={}", f.bdg_device), "");
        assert!(
            !page.contains("BDG01"),
            "GET {p} ({}) shows BDG01",
            r.status
        );
        assert!(
            !page.contains(&f.bdg_device.to_string()),
            "GET {p} shows the BDG01 till"
        );
        assert!(
            !page.contains(&f.bdg_sale.to_string()),
            "GET {p} shows the BDG01 sale"
        );
    }
    // A form field naming BDG01's conflict: a manager decides nothing, and
    // even a finance user's scope would not reach a branch it lacks.
    let csrf = m.csrf.clone();
    let r = m
        .post(
            "/office/conflicts/decide",
            &[
                ("csrf", &csrf),
                ("id", &format!("BDG01:{bdg_conflict}")),
                ("decision", "dismissed"),
                ("comment", "x"),
            ],
        )
        .await;
    assert!([403, 404].contains(&r.status), "{}", r.status);
    assert_eq!(
        f.s.count("SELECT count(*) FROM conflicts WHERE resolved_at IS NOT NULL")
            .await,
        0
    );
    // The audit log is not for managers.
    assert_eq!(m.get("/office/audit").await.status, 403);
    f.s.stop().await;
}

#[tokio::test]
async fn row_level_security_scopes_a_query_without_a_where_clause() {
    let f = fixture(Default::default()).await;
    let tables = sentra_sync::db::ledger_tables(&f.s.pool)
        .await
        .expect("tables");
    assert!(tables.len() >= 15, "{tables:?}");
    let timeout = std::time::Duration::from_secs(10);
    let manager: Uuid =
        sqlx::query_scalar("SELECT user_id FROM office_users WHERE email = 'jkt@x.test'")
            .fetch_one(&f.s.pool)
            .await
            .expect("the JKT01 manager");
    for t in tables
        .iter()
        .map(String::as_str)
        .chain(["branches", "devices", "device_activity"])
    {
        let sql = format!("SELECT count(*), count(*) FILTER (WHERE branch_id <> $1) FROM {t}");
        // As the JKT01 manager's session would: their branches, from the database.
        let mut tx = sentra_office::scope::for_user(&f.s.pool, manager, true, timeout)
            .await
            .expect("scoped");
        let (mine, others): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(f.jkt_branch)
            .fetch_one(&mut *tx)
            .await
            .expect("query");
        assert_eq!(others, 0, "{t}: another branch's rows are visible");
        if ["sales", "journal", "conflicts", "branches", "devices"].contains(&t) {
            assert!(mine > 0, "{t}: the manager sees none of their own branch");
        }
        tx.rollback().await.expect("rollback");
        // No branches: nothing at all.
        let mut tx = sentra_office::scope::for_branches(&f.s.pool, &[], true, timeout)
            .await
            .expect("scoped");
        let (all, _): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(f.jkt_branch)
            .fetch_one(&mut *tx)
            .await
            .expect("query");
        assert_eq!(all, 0, "{t}: rows visible with no branch");
        tx.rollback().await.expect("rollback");
    }
    // The data is there for the server's own role (ingest is unaffected)…
    assert!(
        f.s.count("SELECT count(DISTINCT branch_id) FROM sales")
            .await
            == 2
    );
    // …and a partition cannot be read directly to get around the policy.
    let mut tx = sentra_office::scope::for_branches(&f.s.pool, &[f.jkt_branch], true, timeout)
        .await
        .expect("scoped");
    let err = sqlx::query("SELECT * FROM sales_bdg01")
        .execute(&mut *tx)
        .await
        .expect_err("a partition read directly");
    assert!(err.to_string().contains("permission denied"), "{err}");
    tx.rollback().await.ok();
    // Nor can the scoped role write a ledger figure.
    let mut tx = sentra_office::scope::for_branches(&f.s.pool, &[f.jkt_branch], false, timeout)
        .await
        .expect("scoped");
    let err = sqlx::query("UPDATE sales SET total = 0")
        .execute(&mut *tx)
        .await
        .expect_err("a ledger write");
    assert!(err.to_string().contains("permission denied"), "{err}");
    f.s.stop().await;
}

#[tokio::test]
async fn a_receipt_is_verified_from_its_stored_row_and_not_verified_once_tampered() {
    let f = fixture(Default::default()).await;
    let mut a = OfficeClient::signed_in(&f.s.url, "auditor@x.test", PW).await;
    let path = format!("/office/receipts/JKT01/{}", f.jkt_sale);
    let r = a.get(&path).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("data-verified=\"true\""), "{}", r.body);
    assert!(!r.body.contains("data-verified=\"false\""));
    // Change the stored payload (the sale's total) behind the server's back.
    sqlx::query(
        "UPDATE journal SET payload = jsonb_set(payload, '{total}', '1') WHERE entry_id = $1",
    )
    .bind(f.jkt_sale)
    .execute(&f.s.pool)
    .await
    .expect("tamper");
    let r = a.get(&path).await;
    assert!(r.body.contains("data-verified=\"false\""), "{}", r.body);
    assert!(r.body.contains("hash mismatch"), "the reason is shown");
    // The chain check of the device sees it too.
    let device: Uuid = sqlx::query_scalar("SELECT device_id FROM sales WHERE entry_id = $1")
        .bind(f.jkt_sale)
        .fetch_one(&f.s.pool)
        .await
        .expect("device");
    let c = a.get(&format!("/office/devices/{device}/verify")).await;
    assert!(c.body.contains("data-verified=\"false\""), "{}", c.body);
    let bdg = a
        .get(&format!("/office/devices/{}/verify", f.bdg_device))
        .await;
    assert!(bdg.body.contains("data-verified=\"true\""), "{}", bdg.body);
    f.s.stop().await;
}

#[tokio::test]
async fn finance_resolves_conflicts_in_bulk_with_a_comment_and_the_audit_log_keeps_it() {
    let f = fixture(Default::default()).await;
    let mut fin = OfficeClient::signed_in(&f.s.url, "finance@x.test", PW).await;
    let page = fin.get("/office/conflicts?kind=stale_price").await;
    assert!(
        page.body
            .contains("Terjual 7 × Kopi Susu seharga Rp 14.000; harga yang berlaku Rp 15.000"),
        "{}",
        page.body
    );
    let ids: Vec<(String, Uuid)> = sqlx::query_as(
        "SELECT b.code, c.conflict_id FROM conflicts c JOIN branches b USING (branch_id)",
    )
    .fetch_all(&f.s.pool)
    .await
    .expect("conflicts");
    assert_eq!(ids.len(), 2);
    let csrf = fin.csrf.clone();
    let a = format!("{}:{}", ids[0].0, ids[0].1);
    let b = format!("{}:{}", ids[1].0, ids[1].1);
    // A comment is required.
    let r = fin
        .post(
            "/office/conflicts/decide",
            &[
                ("csrf", &csrf),
                ("id", &a),
                ("decision", "resolved"),
                ("comment", " "),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    let totals = f.s.count("SELECT sum(total)::bigint FROM sales").await;
    let r = fin
        .post(
            "/office/conflicts/decide",
            &[
                ("csrf", &csrf),
                ("id", &a),
                ("id", &b),
                ("decision", "resolved"),
                (
                    "comment",
                    "price list was late; agreed with the area manager",
                ),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        f.s.count(
            "SELECT count(*) FROM conflicts WHERE decision = 'resolved' AND resolved_by IS NOT NULL"
        )
        .await,
        2
    );
    assert_eq!(
        f.s.count("SELECT sum(total)::bigint FROM sales").await,
        totals,
        "a decision edited a figure"
    );
    assert_eq!(f.s.count("SELECT count(*) FROM audit_log WHERE action = 'conflict_resolved' AND actor_email = 'finance@x.test'").await, 2);
    // An auditor sees it; the log refuses to be edited.
    let mut aud = OfficeClient::signed_in(&f.s.url, "auditor@x.test", PW).await;
    let log = aud.get("/office/audit?action=conflict_resolved").await;
    assert_eq!(log.status, 200);
    assert!(log.body.contains("price list was late"), "{}", log.body);
    // Auditors read only.
    let csrf = aud.csrf.clone();
    assert_eq!(
        aud.post(
            "/office/conflicts/decide",
            &[
                ("csrf", &csrf),
                ("id", &a),
                ("decision", "dismissed"),
                ("comment", "x")
            ]
        )
        .await
        .status,
        403
    );
    for sql in [
        "UPDATE audit_log SET action = 'x'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ] {
        let err = sqlx::query(sql).execute(&f.s.pool).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    f.s.stop().await;
}

/// Issue 13: the pages that change the chain need a session, the session's
/// CSRF token and a role that may make the change — and the database says
/// the same when a query tries it without the page's checks.
#[tokio::test]
async fn the_chain_pages_need_a_session_a_token_and_a_role_that_may() {
    let f = fixture(Default::default()).await;
    let mut anon = OfficeClient::new(&f.s.url);
    for p in [
        "/office/catalog",
        "/office/catalog/item/KOPI",
        "/office/catalog/import",
        "/office/settings",
        "/office/branches/JKT01/settings",
        "/office/devices",
        "/office/people",
        "/office/users",
    ] {
        assert_eq!(anon.get(p).await.status, 303, "GET {p} without a session");
    }
    let bdg = f.bdg_device.to_string();
    let posts = [
        "/office/catalog/item/KOPI/price".to_owned(),
        "/office/catalog/item/KOPI".to_owned(),
        "/office/branches/JKT01/settings".to_owned(),
        "/office/devices/enroll-code".to_owned(),
        format!("/office/devices/{bdg}/revoke"),
        format!("/office/devices/{bdg}/readmit"),
        "/office/people".to_owned(),
        "/office/users".to_owned(),
    ];
    for p in &posts {
        assert_eq!(anon.post(p, &[("csrf", "x")]).await.status, 401, "POST {p}");
    }

    let prices = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM prices")
            .fetch_one(&f.s.pool)
            .await
            .expect("count")
    };
    let before = prices().await;
    // An admin without the token: refused, nothing written.
    let mut admin = OfficeClient::signed_in(&f.s.url, "admin@x.test", PW).await;
    let r = admin
        .post(
            "/office/catalog/item/KOPI/price",
            &[("csrf", "wrong"), ("price", "16000"), ("scope", "chain")],
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(prices().await, before);
    // Roles that read do not write, whatever the form says.
    for email in ["finance@x.test", "auditor@x.test"] {
        let mut c = OfficeClient::signed_in(&f.s.url, email, PW).await;
        assert_eq!(c.get("/office/catalog").await.status, 200, "{email} reads");
        assert_eq!(c.get("/office/users").await.status, 403, "{email} users");
        let csrf = c.csrf.clone();
        for (path, form) in [
            (
                "/office/catalog/item/KOPI/price",
                vec![("price", "1"), ("scope", "JKT01")],
            ),
            (
                "/office/catalog/item/KOPI/price",
                vec![("price", "1"), ("scope", "chain")],
            ),
            (
                "/office/branches/JKT01/settings",
                vec![("tenders", "cash"), ("npwp", "012345678901000")],
            ),
            ("/office/devices/enroll-code", vec![("branch", "JKT01")]),
        ] {
            let mut form = form.clone();
            form.push(("csrf", &csrf));
            let r = c.post(path, &form).await;
            assert_eq!(r.status, 403, "{email} POST {path}");
        }
    }
    assert_eq!(prices().await, before);
    let npwp: Option<String> = sqlx::query_scalar("SELECT npwp FROM branches WHERE code = 'JKT01'")
        .fetch_one(&f.s.pool)
        .await
        .expect("branch");
    assert_eq!(npwp, None);
    // Search text is data, never SQL.
    for q in ["' OR 1=1 --", "%", "_", "\\"] {
        let r = admin
            .get(&format!(
                "/office/catalog?q={}",
                sentra_office::ui::url_encode(q)
            ))
            .await;
        assert_eq!(r.status, 200, "search {q:?}");
        assert!(
            !r.body.contains(">KOPI<"),
            "search {q:?} matched everything"
        );
    }

    // An upload whose barcode another product keeps is refused whole, by
    // line; a product the file lists may hand its barcode over.
    sqlx::query("UPDATE products SET barcodes = '{8991}' WHERE sku = 'KOPI'")
        .execute(&f.s.pool)
        .await
        .expect("barcode");
    let header = "sku,barcode,name,price,tax_category,stock\n";
    admin.get("/office/catalog/import").await;
    let r = admin
        .upload(
            "/office/catalog/import",
            "c.csv",
            &format!("{header}TEH,8990,Teh,5000,standard,\nGULA,8991,Gula,9000,exempt,\n"),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body
            .contains("baris 3: barcode 8991 already belongs to product KOPI"),
        "{}",
        r.body
    );
    let r = admin
        .upload(
            "/office/catalog/import",
            "c.csv",
            &format!("{header}KOPI,,Kopi Susu,15000,standard,\nGULA,8991,Gula,9000,exempt,\n"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("id=\"apply\""), "{}", r.body);
    let products: i64 = sqlx::query_scalar("SELECT count(*) FROM products")
        .fetch_one(&f.s.pool)
        .await
        .expect("count");
    assert_eq!(products, 1, "a preview applies nothing");

    // Below the pages: a manager's transaction cannot write chain-wide rows
    // or another branch's, an admin's can.
    let manager: Uuid =
        sqlx::query_scalar("SELECT user_id FROM office_users WHERE email = 'jkt@x.test'")
            .fetch_one(&f.s.pool)
            .await
            .expect("manager");
    let timeout = std::time::Duration::from_secs(5);
    for (sql, what) in [
        (
            "INSERT INTO prices (sku, branch_id, price, effective_from) VALUES ('KOPI', NULL, 1, now())",
            "a chain-wide price",
        ),
        (
            "INSERT INTO prices (sku, branch_id, price, effective_from)
             SELECT 'KOPI', branch_id, 1, now() FROM branches WHERE code = 'BDG01'",
            "another branch's price",
        ),
        (
            "UPDATE products SET name = 'x' WHERE sku = 'KOPI'",
            "a product",
        ),
        ("UPDATE office_users SET role = 'admin'", "office users"),
    ] {
        let mut tx = sentra_office::scope::for_user(&f.s.pool, manager, false, timeout)
            .await
            .expect("scoped");
        let done = sqlx::query(sql).execute(&mut *tx).await;
        let wrote = done.as_ref().map_or(0, |d| d.rows_affected());
        assert_eq!(wrote, 0, "a manager's transaction wrote {what}: {done:?}");
    }
    let mut tx = sentra_office::scope::for_user(&f.s.pool, manager, false, timeout)
        .await
        .expect("scoped");
    sqlx::query(
        "INSERT INTO prices (sku, branch_id, price, effective_from)
         SELECT 'KOPI', branch_id, 14500, now() FROM branches WHERE code = 'JKT01'",
    )
    .execute(&mut *tx)
    .await
    .expect("a manager sets their own branch's price");
    let seen: i64 = sqlx::query_scalar("SELECT count(*) FROM office_users")
        .fetch_one(&mut *tx)
        .await
        .expect("count");
    assert_eq!(seen, 0, "a manager's transaction sees no office users");
    tx.rollback().await.expect("rollback");
    f.s.stop().await;
}
