//! Issue 11, defect 11: a till whose wall clock is set back journals the
//! step (`clock_stepped_back`) at the first entry after it, once, so the
//! cloud can tell the entries made with a clock behind from the backlog
//! made before — which a hybrid clock, holding its wall, cannot show.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sentra_domain::Quantity;
use sentra_keystore::KeyStoreKind;
use sentra_terminal::journal::Clock;
use sentra_terminal::{InitOptions, Terminal};

const CATALOG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/catalog.csv");

/// A wall clock the test sets.
struct SetClock(Arc<AtomicU64>);

impl Clock for SetClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[test]
fn a_clock_set_back_is_journaled_once_where_it_happened() {
    let root = tempfile::tempdir().unwrap();
    let (mut t, _) = Terminal::init(
        &root.path().join("data"),
        &InitOptions {
            branch: "JKT01".into(),
            device_name: "T01".into(),
            key_store: Some(KeyStoreKind::File),
            key_file: Some(root.path().join("keys").join("db.key")),
            ..InitOptions::default()
        },
    )
    .unwrap();
    t.import_catalog(Path::new(CATALOG)).unwrap();
    let hour = 3_600_000u64;
    let t0 = 1_800_000_000_000u64;
    let now = Arc::new(AtomicU64::new(t0));
    t.set_clock(Box::new(SetClock(now.clone())));
    let count = |t: &mut Terminal| {
        t.count_stock("TEH-BTL", Quantity::from_milli(5000))
            .unwrap();
    };

    count(&mut t); // a good clock
    now.store(t0 + 60_000, Ordering::SeqCst);
    count(&mut t);
    now.store(t0 + 60_000 - 2 * hour, Ordering::SeqCst); // set back 2 h
    count(&mut t); // the step is seen here
    now.store(t0 - hour, Ordering::SeqCst); // still behind: the hybrid clock holds
    count(&mut t);
    now.store(t0 + 2 * hour, Ordering::SeqCst); // moving on
    count(&mut t);
    // A small step back (within 2 min) is not a step.
    now.store(t0 + 2 * hour - 60_000, Ordering::SeqCst);
    count(&mut t);

    let journal = t.export_journal().unwrap();
    let kinds: Vec<&str> = journal.iter().map(|e| e.kind.as_str()).collect();
    let marker_at = kinds
        .iter()
        .position(|k| *k == "clock_stepped_back")
        .expect("the step is journaled");
    assert_eq!(
        kinds.iter().filter(|k| **k == "clock_stepped_back").count(),
        1,
        "{kinds:?}"
    );
    // Right before the first entry made with the clock behind.
    let counts: Vec<usize> = kinds
        .iter()
        .enumerate()
        .filter(|(_, k)| **k == "stock_counted")
        .map(|(i, _)| i)
        .collect();
    assert!(counts[1] < marker_at && marker_at < counts[2], "{kinds:?}");
    let marker = &journal[marker_at];
    assert_eq!(marker.payload["behind_ms"], 2 * hour);
    assert_eq!(marker.payload["clock_ms"], t0 + 60_000 - 2 * hour);
    // The hybrid clock held its wall from the step until the clock caught up.
    assert_eq!(marker.hlc.wall_ms, journal[counts[1]].hlc.wall_ms);
    assert_eq!(journal[counts[3]].hlc.wall_ms, marker.hlc.wall_ms);
    assert!(journal[counts[4]].hlc.wall_ms > marker.hlc.wall_ms);
    t.verify_journal().unwrap();
}
