//! `journal verify` finds and names the first bad seq when the journal is
//! tampered with through a raw SQLCipher connection, the way an attacker who
//! holds the database key would: drop the append-only triggers, then delete,
//! edit, swap or re-sign rows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Till;
use ed25519_dalek::{Signer, SigningKey};
use rusqlite::{Connection, params};

/// A till with exactly 10 journal entries: shift opened (seq 1) and nine
/// sales (seq 2..=10).
fn till_with_ten_entries() -> Till {
    let till = Till::ready();
    for i in 0..9 {
        match i % 3 {
            0 => till.ok(&["sell", "--item", "IND-GRGx2", "--pay", "cash:10000"]),
            1 => till.ok(&["sell", "--item", "TEH-BTL", "--pay", "qris:6000:REF-T"]),
            _ => till.ok(&[
                "sell",
                "--item",
                "AQUA600",
                "--item",
                "KOPI-KPL",
                "--pay",
                "card:19500:APR1",
            ]),
        };
    }
    assert_eq!(till.export().len(), 10);
    // Untampered, the chain verifies.
    let v = till.json(&["journal", "verify"]);
    assert_eq!(v["entries"], 10, "{v}");
    assert_eq!(v["tip_seq"], 10, "{v}");
    till
}

/// Attacker step one: the append-only triggers go.
fn unlock(conn: &Connection) {
    conn.execute_batch(
        "DROP TRIGGER journal_is_append_only_update;
         DROP TRIGGER journal_is_append_only_delete;",
    )
    .unwrap();
}

/// `journal verify` must fail, naming `seq` and the problem; returns stderr.
fn verify_fails(till: &Till, seq: u64, problem: &str) -> String {
    let err = till.fails(&["journal", "verify"]);
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected: {err}"
    );
    assert!(
        err.contains("journal verification failed"),
        "unexpected error: {err}"
    );
    assert!(
        err.contains(&format!("seq {seq}:")),
        "error should name seq {seq}: {err}"
    );
    assert!(err.contains(problem), "error should say {problem:?}: {err}");
    eprintln!("verify said: {err}");
    err
}

const COLUMNS_BUT_SEQ: &str = "device_id, id, format, branch, hlc_wall_ms, hlc_counter, kind, payload, prev_hash, hash, signature";

#[test]
fn untampered_journal_verifies() {
    let till = till_with_ten_entries();
    let out = till.run(&["journal", "verify"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
}

#[test]
fn deleted_entry_is_named() {
    let till = till_with_ten_entries();
    let conn = till.raw();
    unlock(&conn);
    assert_eq!(
        conn.execute("DELETE FROM journal WHERE seq = 5", [])
            .unwrap(),
        1
    );
    drop(conn);
    let err = verify_fails(&till, 5, "missing");
    assert!(err.contains("next entry found is seq 6"), "{err}");
}

#[test]
fn deleted_first_entry_is_named() {
    let till = till_with_ten_entries();
    let conn = till.raw();
    unlock(&conn);
    conn.execute("DELETE FROM journal WHERE seq = 1", [])
        .unwrap();
    drop(conn);
    verify_fails(&till, 1, "missing");
}

#[test]
fn modified_payload_is_named() {
    let till = till_with_ten_entries();
    let conn = till.raw();
    unlock(&conn);
    let payload: String = conn
        .query_row("SELECT payload FROM journal WHERE seq = 4", [], |r| {
            r.get(0)
        })
        .unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&payload).unwrap();
    let total = value["total"].as_i64().expect("sale payload has a total");
    value["total"] = serde_json::json!(total - 1000);
    let tampered = serde_json::to_string(&value).unwrap();
    assert_ne!(tampered, payload);
    conn.execute(
        "UPDATE journal SET payload = ?1 WHERE seq = 4",
        params![tampered],
    )
    .unwrap();
    drop(conn);
    verify_fails(&till, 4, "hash mismatch");
}

#[test]
fn modified_amount_in_nested_payload_is_named() {
    // A byte-level edit inside the JSON text (a tender amount), not a re-encode.
    let till = till_with_ten_entries();
    let conn = till.raw();
    unlock(&conn);
    let payload: String = conn
        .query_row("SELECT payload FROM journal WHERE seq = 4", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(payload.contains("\"amount\":19500"), "{payload}");
    let tampered = payload.replacen("\"amount\":19500", "\"amount\":1950", 1);
    conn.execute(
        "UPDATE journal SET payload = ?1 WHERE seq = 4",
        params![tampered],
    )
    .unwrap();
    drop(conn);
    verify_fails(&till, 4, "hash mismatch");
}

/// Swap the stored contents of seq 5 and 6, keeping each row's seq.
#[test]
fn swapped_contents_are_named() {
    let till = till_with_ten_entries();
    let conn = till.raw();
    unlock(&conn);
    conn.execute_batch(&format!(
        "BEGIN;
         CREATE TEMP TABLE swap AS SELECT * FROM journal WHERE seq IN (5, 6);
         DELETE FROM journal WHERE seq IN (5, 6);
         INSERT INTO journal (seq, {COLUMNS_BUT_SEQ})
             SELECT 11 - seq, {COLUMNS_BUT_SEQ} FROM temp.swap;
         COMMIT;"
    ))
    .unwrap();
    // The rows really did trade places.
    let kinds: Vec<(i64, String)> = conn
        .prepare("SELECT seq, id FROM journal WHERE seq IN (5, 6) ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(kinds.len(), 2);
    drop(conn);
    verify_fails(&till, 5, "seq 5:");
}

/// Swap the seq values of entries 5 and 6 (the rows otherwise untouched), so
/// reading in seq order meets entry 6's content first.
#[test]
fn swapped_seq_values_are_named() {
    let till = till_with_ten_entries();
    let conn = till.raw();
    unlock(&conn);
    let id5: String = conn
        .query_row("SELECT id FROM journal WHERE seq = 5", [], |r| r.get(0))
        .unwrap();
    conn.execute_batch(
        "BEGIN;
         UPDATE journal SET seq = 1000 WHERE seq = 5;
         UPDATE journal SET seq = 5 WHERE seq = 6;
         UPDATE journal SET seq = 6 WHERE seq = 1000;
         COMMIT;",
    )
    .unwrap();
    let now6: String = conn
        .query_row("SELECT id FROM journal WHERE seq = 6", [], |r| r.get(0))
        .unwrap();
    assert_eq!(now6, id5);
    drop(conn);
    verify_fails(&till, 5, "seq 5:");
}

/// Moving whole rows (seq included) changes nothing a reader can see: the
/// chain is read in seq order. Swapping them back and forth must verify.
#[test]
fn rows_reinserted_in_other_physical_order_still_verify() {
    let till = till_with_ten_entries();
    let conn = till.raw();
    unlock(&conn);
    conn.execute_batch(
        "BEGIN;
         CREATE TEMP TABLE keep AS SELECT * FROM journal WHERE seq IN (5, 6);
         DELETE FROM journal WHERE seq IN (5, 6);
         INSERT INTO journal SELECT * FROM temp.keep ORDER BY seq DESC;
         COMMIT;",
    )
    .unwrap();
    drop(conn);
    till.ok(&["journal", "verify"]);
}

/// Seq 3's signature replaced by a genuine Ed25519 signature, by the
/// device's own key, of other bytes.
#[test]
fn signature_over_other_bytes_is_named() {
    let till = till_with_ten_entries();
    let conn = till.raw();
    unlock(&conn);
    let seed: Vec<u8> = conn
        .query_row(
            "SELECT signing_key FROM device WHERE singleton = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let key = SigningKey::from_bytes(&seed.try_into().unwrap());
    let other = key.sign(b"some other bytes entirely").to_bytes();
    let original: Vec<u8> = conn
        .query_row("SELECT signature FROM journal WHERE seq = 3", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(original.len(), 64);
    assert_ne!(original.as_slice(), other.as_slice());
    conn.execute(
        "UPDATE journal SET signature = ?1 WHERE seq = 3",
        params![other.as_slice()],
    )
    .unwrap();
    drop(conn);
    verify_fails(&till, 3, "bad signature");
}

/// Another entry's (valid) signature copied onto seq 3.
#[test]
fn signature_of_another_entry_is_named() {
    let till = till_with_ten_entries();
    let conn = till.raw();
    unlock(&conn);
    conn.execute(
        "UPDATE journal SET signature = (SELECT signature FROM journal WHERE seq = 7)
         WHERE seq = 3",
        [],
    )
    .unwrap();
    drop(conn);
    verify_fails(&till, 3, "bad signature");
}

#[test]
fn one_flipped_signature_bit_is_named() {
    let till = till_with_ten_entries();
    let conn = till.raw();
    unlock(&conn);
    let mut sig: Vec<u8> = conn
        .query_row("SELECT signature FROM journal WHERE seq = 3", [], |r| {
            r.get(0)
        })
        .unwrap();
    sig[17] ^= 0x04;
    conn.execute(
        "UPDATE journal SET signature = ?1 WHERE seq = 3",
        params![sig],
    )
    .unwrap();
    drop(conn);
    verify_fails(&till, 3, "bad signature");
}

/// Only the first bad seq is named: with seq 3 and seq 8 both damaged, the
/// error names 3.
#[test]
fn first_of_several_problems_is_named() {
    let till = till_with_ten_entries();
    let conn = till.raw();
    unlock(&conn);
    conn.execute("DELETE FROM journal WHERE seq = 8", [])
        .unwrap();
    let mut sig: Vec<u8> = conn
        .query_row("SELECT signature FROM journal WHERE seq = 3", [], |r| {
            r.get(0)
        })
        .unwrap();
    sig[0] ^= 0x80;
    conn.execute(
        "UPDATE journal SET signature = ?1 WHERE seq = 3",
        params![sig],
    )
    .unwrap();
    drop(conn);
    let err = verify_fails(&till, 3, "bad signature");
    assert!(!err.contains("seq 8"), "{err}");
}

/// The --json flag does not hide a failed verification: still non-zero.
#[test]
fn json_verify_of_tampered_journal_fails() {
    let till = till_with_ten_entries();
    let conn = till.raw();
    unlock(&conn);
    conn.execute("DELETE FROM journal WHERE seq = 5", [])
        .unwrap();
    drop(conn);
    let err = till.fails(&["--json", "journal", "verify"]);
    assert!(err.contains("seq 5"), "{err}");
}

/// The one-line error says it once: the CLI's cause chain must not repeat
/// the chain error ("… at seq 5: missing …: seq 5: missing …").
#[test]
fn verify_error_is_not_repeated() {
    let till = till_with_ten_entries();
    let conn = till.raw();
    unlock(&conn);
    conn.execute("DELETE FROM journal WHERE seq = 5", [])
        .unwrap();
    drop(conn);
    let err = verify_fails(&till, 5, "missing");
    assert_eq!(err.matches("next entry found").count(), 1, "{err}");
}
