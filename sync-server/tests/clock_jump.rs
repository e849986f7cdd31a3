//! One clock offset is not applied to a whole backlog: entries made with a
//! good clock days before the push keep their time (and business date);
//! only those made after the clock jumped ahead are corrected.

mod common;

use common::{Server, now_ms, sale};
use sentra_protocol::payload::ShiftOpened;
use sentra_protocol::wire::{DeviceKind, PushResponse};
use uuid::Uuid;

#[tokio::test]
async fn a_backlog_spanning_a_forward_clock_jump_keeps_the_times_before_it() {
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let hour = 3_600_000u64;
    let now = now_ms();
    let shift = Uuid::now_v7();
    // Offline for two days with a good clock.
    t.wall_ms = now - 48 * hour;
    let opened = t.entry(&ShiftOpened {
        shift_id: shift,
        opening_float: 0,
        cashier: None,
    });
    let mut entries = vec![opened];
    for i in 0..6u64 {
        t.wall_ms = now - 48 * hour + i * 6 * hour;
        t.counter = 0;
        entries.push(t.entry(&sale(
            &format!("JKT01-T1-{i:06}"),
            shift,
            &[("A", 1000, 5000)],
        )));
    }
    // Then the clock jumps 3 h ahead, and two more sales.
    let skew = 3 * hour;
    for i in 6..8u64 {
        t.wall_ms = now - 10 * 60_000 + (i - 6) * 60_000 + skew;
        t.counter = 0;
        entries.push(t.entry(&sale(
            &format!("JKT01-T1-{i:06}"),
            shift,
            &[("A", 1000, 5000)],
        )));
    }
    let walls: Vec<i64> = entries.iter().map(|e| e.hlc.wall_ms as i64).collect();
    let (status, body) = s.push(&t.credential, &entries, Some(now_ms() + skew)).await;
    assert_eq!(status, 200, "{body}");
    let r: PushResponse = serde_json::from_value(body).expect("answer");
    assert_eq!(r.stored, 9, "{r:?}");
    assert!(r.conflicts.iter().any(|c| c.kind == "clock_skew"), "{r:?}");

    let occurred: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT seq, (extract(epoch FROM occurred_at) * 1000)::bigint FROM journal ORDER BY seq",
    )
    .fetch_all(&s.pool)
    .await
    .expect("journal");
    for (seq, at) in occurred {
        let wall = walls[(seq - 1) as usize];
        if seq <= 7 {
            assert_eq!(
                at, wall,
                "seq {seq}: made with a good clock, keeps its time"
            );
        } else {
            let corrected = wall - skew as i64;
            assert!(
                (at - corrected).abs() < 5_000,
                "seq {seq}: corrected by the measured offset ({at} vs {corrected})"
            );
        }
    }
    s.stop().await;
}
