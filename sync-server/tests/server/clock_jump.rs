//! One clock offset is not applied to a whole backlog: entries made with a
//! good clock days before the push keep their time (and business date);
//! only those made after the clock jumped ahead are corrected.

use crate::common;

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

/// The backward case: the till journals `clock_stepped_back` where its
/// clock was set back; the entries before it keep their time, those made
/// while the hybrid clock held its wall keep that wall, and only those made
/// once it moved on (2 h behind) are corrected. An alert is raised.
#[tokio::test]
async fn a_backlog_spanning_a_backward_clock_step_is_corrected_only_after_it() {
    use sentra_protocol::payload::ClockSteppedBack;
    let s = Server::start().await;
    s.branch("JKT01").await;
    let mut t = s.enroll("JKT01", DeviceKind::Terminal, 1).await;
    let hour = 3_600_000u64;
    let now = now_ms();
    let shift = Uuid::now_v7();
    let behind = 2 * hour;
    // A day offline with a good clock.
    t.wall_ms = now - 30 * hour;
    t.counter = 0;
    let mut entries = vec![t.entry(&ShiftOpened {
        shift_id: shift,
        opening_float: 0,
        cashier: None,
    })];
    let mut receipt = 0;
    let mut sell = |t: &mut common::Device, entries: &mut Vec<sentra_protocol::Entry>| {
        receipt += 1;
        entries.push(t.entry(&sale(
            &format!("JKT01-T1-{receipt:06}"),
            shift,
            &[("A", 1000, 5000)],
        )));
    };
    for i in 0..4u64 {
        t.wall_ms = now - 30 * hour + i * 6 * hour;
        t.counter = 0;
        sell(&mut t, &mut entries);
    }
    // Set back 2 h: the marker and two sales at the held wall (the device
    // helper counts up from the last wall, as the hybrid clock does).
    let held = t.wall_ms;
    entries.push(t.entry(&ClockSteppedBack {
        behind_ms: behind as i64,
        clock_ms: (held - behind) as i64,
    }));
    sell(&mut t, &mut entries);
    sell(&mut t, &mut entries);
    // The clock caught up with the held wall and moved on, 2 h behind.
    for i in 0..2u64 {
        t.wall_ms = now - behind - 20 * 60_000 + i * 60_000;
        t.counter = 0;
        sell(&mut t, &mut entries);
    }
    assert!(
        t.wall_ms > held,
        "the test's clock moved past the held wall"
    );
    let walls: Vec<i64> = entries.iter().map(|e| e.hlc.wall_ms as i64).collect();
    let (status, body) = s
        .push(&t.credential, &entries, Some(now_ms() - behind))
        .await;
    assert_eq!(status, 200, "{body}");
    let r: PushResponse = serde_json::from_value(body).expect("answer");
    assert_eq!(r.stored, entries.len() as u64, "{r:?}");

    let occurred: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT seq, (extract(epoch FROM occurred_at) * 1000)::bigint FROM journal ORDER BY seq",
    )
    .fetch_all(&s.pool)
    .await
    .expect("journal");
    let marker_seq = 6;
    for (seq, at) in occurred {
        let wall = walls[(seq - 1) as usize];
        if seq <= marker_seq + 2 {
            assert_eq!(at, wall, "seq {seq}: keeps its time (or the held wall)");
        } else {
            let corrected = wall + behind as i64;
            assert!(
                (at - corrected).abs() < 5_000,
                "seq {seq}: corrected by the measured offset ({at} vs {corrected})"
            );
        }
    }
    let alerts = s
        .count("SELECT count(*) FROM alerts WHERE kind = 'clock_stepped_back'")
        .await;
    assert_eq!(alerts, 1);
    s.stop().await;
}
