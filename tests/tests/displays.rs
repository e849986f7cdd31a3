//! The private X displays the app tests run under: tests started together
//! each get their own, and none is torn down under another's app.
//!
//! Regression: displays were chosen by looking for free lock files, so two
//! tests started at once could pick the same number; one Xvfb failed, both
//! tests used the survivor, and the first to finish killed it under the
//! other's app ("webdriver could not be reached" in full runs only).

use std::collections::BTreeSet;

use sentra_e2e::app::Display;

#[test]
fn displays_started_together_are_distinct_and_each_stays_up() {
    let handles: Vec<_> = (0..6)
        .map(|_| std::thread::spawn(|| Display::start().expect("a display")))
        .collect();
    let mut displays: Vec<Display> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    let numbers: BTreeSet<u32> = displays.iter().map(|d| d.number).collect();
    assert_eq!(
        numbers.len(),
        displays.len(),
        "shared a display: {numbers:?}"
    );
    // Give a failed Xvfb time to exit, then every one must still be ours and up.
    std::thread::sleep(std::time::Duration::from_millis(500));
    for d in &mut displays {
        assert!(d.running(), "Xvfb :{} is not running", d.number);
    }
    // Dropping one leaves the others up.
    let first = displays.remove(0);
    drop(first);
    std::thread::sleep(std::time::Duration::from_millis(200));
    for d in &mut displays {
        assert!(d.running(), "Xvfb :{} went down with another", d.number);
    }
}
