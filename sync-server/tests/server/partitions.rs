//! Per-branch partitions (architecture principle 6): every ledger table is
//! `PARTITION BY LIST (branch_id)`, a branch's partitions are made when the
//! branch is, a branch's rows live only in its own partition, and every
//! primary and unique key starts with `branch_id`.

use crate::common;

use std::collections::BTreeMap;

use common::{Device, Server, sale, sale_with};
use sentra_protocol::payload::{
    CashDirection, CashMoved, RefundIssued, RefundLine, SaleVoided, ShiftClosed, ShiftOpened,
    ShiftTotals, StockCounted,
};
use sentra_protocol::wire::{DeviceKind, PushResponse};
use sentra_protocol::{Entry, EntryKind};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

/// The ledger tables of migration 1; `ledger_tables` may name more.
const KNOWN: [&str; 16] = [
    "alerts",
    "cash_movements",
    "conflicts",
    "daily_rollup",
    "device_heads",
    "journal",
    "refund_lines",
    "refunds",
    "sale_lines",
    "sale_payments",
    "sales",
    "shifts",
    "stock_levels",
    "stock_movements",
    "voids",
    "voucher_redemptions",
];

async fn ledger_tables(s: &Server) -> Vec<String> {
    sentra_sync::db::ledger_tables(&s.pool)
        .await
        .expect("ledger tables")
}

/// The partitions of `table`: name → partition bound.
async fn partitions(s: &Server, table: &str) -> BTreeMap<String, String> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid)
         FROM pg_partition_tree($1::text::regclass) t
         JOIN pg_class c ON c.oid = t.relid
         WHERE t.level = 1",
    )
    .bind(table)
    .fetch_all(&s.pool)
    .await
    .expect("partition tree");
    let inherits: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_inherits WHERE inhparent = $1::text::regclass")
            .bind(table)
            .fetch_one(&s.pool)
            .await
            .expect("pg_inherits");
    assert_eq!(
        inherits as usize,
        rows.len(),
        "{table}: pg_inherits and pg_partition_tree agree"
    );
    rows.into_iter().collect()
}

fn bound(branch_id: i32) -> String {
    format!("FOR VALUES IN ({branch_id})")
}

#[tokio::test]
async fn creating_a_branch_creates_its_partition_of_every_ledger_table() {
    let s = Server::start().await;
    let tables = ledger_tables(&s).await;
    for k in KNOWN {
        assert!(
            tables.iter().any(|t| t == k),
            "{k} is not a partitioned table: {tables:?}"
        );
    }
    for t in &tables {
        assert!(
            partitions(&s, t).await.is_empty(),
            "{t} has partitions before any branch"
        );
    }

    let jkt = s.branch("JKT01").await;
    for t in &tables {
        let want: BTreeMap<String, String> = [(format!("{t}_jkt01"), bound(jkt))].into();
        assert_eq!(partitions(&s, t).await, want, "{t} after JKT01");
    }

    let bdg = s.branch("BDG01").await;
    for t in &tables {
        let want: BTreeMap<String, String> = [
            (format!("{t}_jkt01"), bound(jkt)),
            (format!("{t}_bdg01"), bound(bdg)),
        ]
        .into();
        assert_eq!(partitions(&s, t).await, want, "{t} after BDG01");
        // Leaves only: no sub-partitioning, no default partition.
        let default: Option<String> = sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_partition_tree($1::text::regclass) t
             JOIN pg_class c ON c.oid = t.relid
             WHERE pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'",
        )
        .bind(t)
        .fetch_optional(&s.pool)
        .await
        .expect("default partition");
        assert_eq!(default, None, "{t} has a default partition");
    }
    s.stop().await;
}

async fn push_ok(
    s: &Server,
    d: &Device,
    entries: &[Entry],
    sent_at_ms: Option<u64>,
) -> PushResponse {
    let (status, body) = s.push(&d.credential, entries, sent_at_ms).await;
    assert_eq!(status, 200, "{body}");
    let r: PushResponse = serde_json::from_value(body).expect("push response");
    assert!(r.refused.is_empty(), "{r:?}");
    assert_eq!(r.stored, entries.len() as u64, "{r:?}");
    r
}

/// A shift's worth of entries of every kind, so that every ledger table gets
/// rows of this branch: sales (cash and voucher), a void, a refund, cash out,
/// a stock count, a shift close whose totals do not match (a conflict) and an
/// entry of an unknown kind (an alert).
async fn a_day_of_trading(s: &Server, d: &mut Device) {
    let b = d.branch.clone();
    let shift = Uuid::now_v7();
    let mut entries = vec![
        d.entry(&ShiftOpened {
            shift_id: shift,
            opening_float: 300_000,
            cashier: Some("Siti".into()),
        }),
        d.entry(&StockCounted {
            sku: "A".into(),
            counted_milli: 50_000,
            previous_milli: 0,
        }),
    ];
    let s1 = sale(
        &format!("{b}-000001"),
        shift,
        &[("A", 2000, 3500), ("B", 1000, 4000)],
    );
    let s2 = sale_with(
        &format!("{b}-000002"),
        shift,
        &[("A", 1000, 3500)],
        "voucher",
        Some(&format!("GIFT-{b}")),
    );
    let s3 = sale(&format!("{b}-000003"), shift, &[("B", 1000, 4000)]);
    let e1 = d.entry(&s1);
    let e3 = d.entry(&s3);
    entries.push(e1.clone());
    entries.push(d.entry(&s2));
    entries.push(e3.clone());
    entries.push(d.entry(&SaleVoided {
        receipt_no: s3.receipt_no.clone(),
        sale_entry_id: e3.id,
        shift_id: shift,
        total: s3.total,
        reason: Some("wrong item".into()),
    }));
    let line = &s1.lines[1];
    entries.push(d.entry(&RefundIssued {
        refund_no: format!("{b}-R000001"),
        receipt_no: s1.receipt_no.clone(),
        sale_entry_id: Some(e1.id),
        shift_id: shift,
        lines: vec![RefundLine {
            line_no: line.line_no,
            sku: line.sku.clone(),
            quantity_milli: line.quantity_milli,
            amount: line.total,
            tax: line.tax,
        }],
        total: line.total,
        tax: line.tax,
        method: "cash".into(),
        reason: None,
        unverified: false,
    }));
    entries.push(d.entry(&CashMoved {
        shift_id: shift,
        direction: CashDirection::Out,
        amount: 10_000,
        reason: Some("float to safe".into()),
    }));
    entries.push(d.raw(
        EntryKind::Other("loyalty_points".into()),
        serde_json::json!({"points": 7}),
    ));
    entries.push(d.entry(&ShiftClosed {
        shift_id: shift,
        opening_float: 300_000,
        totals: ShiftTotals {
            sales_count: 99,
            gross: 1,
            discounts: 0,
            tax: 0,
            sales_total: 1,
            refunds_count: 0,
            refunds_total: 0,
            voids_count: 0,
            voids_total: 0,
            payments: BTreeMap::new(),
            cash_in: 0,
            cash_out: 0,
            no_sales: 0,
        },
        expected_cash: 300_000,
        counted_cash: 300_000,
        variance: 0,
        counted_denominations: Vec::new(),
    }));
    let r = push_ok(s, d, &entries, None).await;
    assert_eq!(r.quarantined.len(), 1, "{r:?}");
    assert!(
        r.conflicts.iter().any(|c| c.kind == "shift_mismatch"),
        "{r:?}"
    );
}

#[tokio::test]
async fn each_branchs_rows_live_only_in_its_own_partition() {
    let s = Server::start().await;
    let mut ids: BTreeMap<i32, String> = BTreeMap::new();
    for code in ["JKT01", "BDG01", "SBY01"] {
        ids.insert(s.branch(code).await, code.to_lowercase());
    }
    let mut jkt = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let mut bdg = s.enroll("BDG01", DeviceKind::Terminal, 2).await;
    a_day_of_trading(&s, &mut jkt).await;
    a_day_of_trading(&s, &mut bdg).await;
    // A second device of JKT01, pushed through its relay.
    let mut jkt2 = s.enroll("JKT01", DeviceKind::Terminal, 3).await;
    let relay = s.enroll("JKT01", DeviceKind::Relay, 4).await;
    let shift = Uuid::now_v7();
    let forwarded = vec![
        jkt2.entry(&ShiftOpened {
            shift_id: shift,
            opening_float: 0,
            cashier: None,
        }),
        jkt2.entry(&sale("JKT01-T3-000001", shift, &[("C", 1000, 12_000)])),
    ];
    let (status, body) = s.push(&relay.credential, &forwarded, None).await;
    assert_eq!(status, 200, "{body}");

    let tables = ledger_tables(&s).await;
    for t in &tables {
        // Where each row physically lives.
        let placed: Vec<(String, i32, i64)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT tableoid::regclass::text, branch_id, count(*) FROM {t} GROUP BY 1, 2 ORDER BY 1, 2"
        )))
        .fetch_all(&s.pool)
        .await
        .expect("placement");
        for (partition, branch_id, _) in &placed {
            assert_eq!(
                partition,
                &format!("{t}_{}", ids[branch_id]),
                "{t}: a row of branch {branch_id}"
            );
        }
        if KNOWN.contains(&t.as_str()) {
            let branches: Vec<i32> = placed.iter().map(|p| p.1).collect();
            assert_eq!(
                branches.len(),
                2,
                "{t} has rows of both trading branches: {placed:?}"
            );
        }
        // The parent holds nothing of its own; each partition only its branch.
        let own: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM ONLY {t}")))
            .fetch_one(&s.pool)
            .await
            .expect("count");
        assert_eq!(own, 0, "{t}");
        for (branch_id, code) in &ids {
            let (foreign, all, via_parent): (i64, i64, i64) =
                sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT (SELECT count(*) FROM ONLY {t}_{code} WHERE branch_id <> $1),
                        (SELECT count(*) FROM ONLY {t}_{code}),
                        (SELECT count(*) FROM {t} WHERE branch_id = $1)"
                )))
                .bind(branch_id)
                .fetch_one(&s.pool)
                .await
                .expect("partition counts");
            assert_eq!(foreign, 0, "{t}_{code} holds rows of another branch");
            assert_eq!(all, via_parent, "{t}_{code} holds every row of its branch");
        }
    }
    let sby: i64 = sqlx::query_scalar("SELECT count(*) FROM journal_sby01")
        .fetch_one(&s.pool)
        .await
        .expect("count");
    assert_eq!(sby, 0, "a branch that never traded has empty partitions");
    s.stop().await;
}

#[tokio::test]
async fn every_key_of_every_ledger_table_starts_with_branch_id() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let tables = ledger_tables(&s).await;
    assert!(!tables.is_empty());
    for t in &tables {
        // Partitioned by LIST on branch_id alone.
        let (strategy, key): (String, Vec<String>) = sqlx::query_as(
            "SELECT p.partstrat::text,
                    ARRAY(SELECT a.attname::text FROM unnest(p.partattrs::int2[]) WITH ORDINALITY k(n, i)
                          JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = k.n
                          ORDER BY k.i)
             FROM pg_partitioned_table p WHERE p.partrelid = $1::text::regclass",
        )
        .bind(t)
        .fetch_one(&s.pool)
        .await
        .expect("partition key");
        assert_eq!(
            (strategy.as_str(), key),
            ("l", vec!["branch_id".to_owned()]),
            "{t}"
        );

        // Constraints: a primary key, and every primary/unique key leads with branch_id.
        let constraints: Vec<(String, String, Vec<String>)> = sqlx::query_as(
            "SELECT c.conname::text, c.contype::text,
                    ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n
                          ORDER BY k.i)
             FROM pg_constraint c
             WHERE c.conrelid = $1::text::regclass AND c.contype IN ('p', 'u')",
        )
        .bind(t)
        .fetch_all(&s.pool)
        .await
        .expect("constraints");
        assert_eq!(
            constraints.iter().filter(|c| c.1 == "p").count(),
            1,
            "{t} has one primary key"
        );
        for (name, _, cols) in &constraints {
            assert_eq!(
                cols.first().map(String::as_str),
                Some("branch_id"),
                "{t}: {name} is {cols:?}"
            );
        }

        // Unique indexes (also those not backing a constraint), on the table
        // and on its partitions.
        let indexes: Vec<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT r.relname::text, i.indexrelid::regclass::text,
                    (SELECT a.attname::text FROM pg_attribute a
                     WHERE a.attrelid = i.indrelid AND a.attnum = i.indkey[0])
             FROM pg_index i JOIN pg_class r ON r.oid = i.indrelid
             WHERE (i.indisunique OR i.indisprimary)
               AND i.indrelid IN (SELECT relid FROM pg_partition_tree($1::text::regclass))",
        )
        .bind(t)
        .fetch_all(&s.pool)
        .await
        .expect("indexes");
        assert!(indexes.iter().any(|i| i.0 == *t), "{t} has a unique index");
        assert!(
            indexes.iter().any(|i| i.0 == format!("{t}_jkt01")),
            "{t}_jkt01 has its unique index"
        );
        for (table, index, first) in &indexes {
            assert_eq!(first.as_deref(), Some("branch_id"), "{table}: {index}");
        }
    }
    s.stop().await;
}

/// Every table's rows as text, only branch `branch_id`'s where the table
/// has a `branch_id` column: table → (has branch_id, rows).
async fn rows_of_branch(s: &Server, branch_id: i32) -> BTreeMap<String, (bool, Vec<String>)> {
    let tables: Vec<(String, bool)> = sqlx::query_as(
        "SELECT c.relname::text,
                EXISTS (SELECT 1 FROM pg_attribute a
                        WHERE a.attrelid = c.oid AND a.attname = 'branch_id' AND NOT a.attisdropped)
         FROM pg_class c
         WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
           AND NOT c.relispartition AND c.relname <> '_sqlx_migrations'
         ORDER BY 1",
    )
    .fetch_all(&s.pool)
    .await
    .expect("tables");
    let mut out = BTreeMap::new();
    for (t, by_branch) in tables {
        let sql = if by_branch {
            format!("SELECT t::text FROM {t} t WHERE branch_id = {branch_id}")
        } else {
            format!("SELECT t::text FROM {t} t")
        };
        let mut rows: Vec<String> = sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_all(&s.pool)
            .await
            .expect("rows");
        rows.sort();
        out.insert(t, (by_branch, rows));
    }
    out
}

/// A foreign key: name, table, referenced table, columns, referenced columns.
type ForeignKey = (String, String, String, Vec<String>, Vec<String>);

/// Ready for a distributed PostgreSQL (`docs/operations.md`, 9.5): a
/// branch's ingest writes no row of another branch and no row of a table
/// shared by all branches, except the ones named here; and every foreign
/// key between ledger tables carries `branch_id`, while none points from a
/// shared table into the ledger — so ledger tables can be distributed by
/// `branch_id`, co-located, and the shared ones made reference tables.
#[tokio::test]
async fn a_branchs_ingest_stays_in_its_branch_and_the_keys_co_locate() {
    let s = Server::start().await;
    let jkt = s.branch("JKT01").await;
    let bdg = s.branch("BDG01").await;
    let mut till_j = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let mut till_b = s.enroll("BDG01", DeviceKind::Terminal, 2).await;
    a_day_of_trading(&s, &mut till_b).await;
    let before = rows_of_branch(&s, bdg).await;
    a_day_of_trading(&s, &mut till_j).await;
    let after = rows_of_branch(&s, bdg).await;
    let jkt_rows = rows_of_branch(&s, jkt).await;

    let mut shared_written = Vec::new();
    for (table, (by_branch, rows)) in &after {
        let was = &before[table].1;
        if *by_branch {
            assert_eq!(rows, was, "JKT01's ingest changed BDG01's rows of {table}");
        } else if rows != was {
            shared_written.push(table.clone());
        }
    }
    assert!(
        shared_written.is_empty(),
        "JKT01's ingest wrote tables shared by every branch: {shared_written:?}"
    );
    assert!(
        jkt_rows
            .values()
            .filter(|(b, _)| *b)
            .any(|(_, r)| !r.is_empty()),
        "JKT01 traded"
    );

    let ledger = ledger_tables(&s).await;
    let fks: Vec<ForeignKey> = sqlx::query_as(
        "SELECT c.conname::text, c.conrelid::regclass::text, c.confrelid::regclass::text,
                ARRAY(SELECT a.attname::text FROM unnest(c.conkey) k(n)
                      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n),
                ARRAY(SELECT a.attname::text FROM unnest(c.confkey) k(n)
                      JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n)
         FROM pg_constraint c
         WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace
           AND NOT EXISTS (SELECT 1 FROM pg_class r WHERE r.oid = c.conrelid AND r.relispartition)",
    )
    .fetch_all(&s.pool)
    .await
    .expect("foreign keys");
    for (name, from, to, cols, ref_cols) in &fks {
        let (from_ledger, to_ledger) = (ledger.contains(from), ledger.contains(to));
        if from_ledger && to_ledger {
            assert!(
                cols.contains(&"branch_id".to_owned())
                    && ref_cols.contains(&"branch_id".to_owned()),
                "{from}.{name} -> {to} does not carry branch_id: {cols:?} -> {ref_cols:?}"
            );
        }
        assert!(
            from_ledger || !to_ledger,
            "{from}.{name} points from a shared table into the ledger table {to}"
        );
    }
    s.stop().await;
}

/// Making a branch takes each ledger table's lock in turn. A reader that
/// holds some of them and then asks for one the maker already took
/// deadlocks with it, and PostgreSQL ends the maker's transaction (it waited
/// first, so its deadlock check runs first). The branch is made anyway: the
/// maker's transaction is retried once the reader is done. (Seen in a full
/// run: a head-office page's query and a branch made at the same moment.)
#[tokio::test]
async fn a_branch_made_while_a_reader_holds_ledger_tables_survives_the_deadlock() {
    let s = Server::start().await;
    // The first table the maker locks: the function walks them in this order.
    let order: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_partitioned_table p
         JOIN pg_class c ON c.oid = p.partrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = current_schema()",
    )
    .fetch_all(&s.pool)
    .await
    .expect("ledger tables");
    let (first, rest) = order.split_first().expect("ledger tables");

    let mut reader = s.pool.begin().await.expect("reader");
    sqlx::query(AssertSqlSafe(format!(
        "LOCK TABLE {} IN ACCESS SHARE MODE",
        rest.join(", ")
    )))
    .execute(&mut *reader)
    .await
    .expect("the reader holds every table but the first");

    let pool = s.pool.clone();
    let maker = tokio::spawn(async move {
        sentra_sync::admin::branch::create(&pool, "BDG01", "Bandung", "Asia/Jakarta").await
    });
    // The maker holds the first table and waits for the reader's.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while s
        .count("SELECT count(*) FROM pg_locks WHERE NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
        .await
        == 0
    {
        assert!(std::time::Instant::now() < deadline, "the maker never waited");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // The reader asks for the first table: a deadlock. Whichever side
    // PostgreSQL ends, the reader's answer is taken and it finishes.
    let _ = sqlx::query(AssertSqlSafe(format!("SELECT 1 FROM {first} LIMIT 0")))
        .execute(&mut *reader)
        .await;
    let _ = reader.rollback().await;

    let made = maker.await.expect("maker task");
    assert!(made.is_ok(), "the branch was not made: {made:?}");
    assert_eq!(
        s.count("SELECT count(*) FROM branches WHERE code = 'BDG01'")
            .await,
        1
    );
}
