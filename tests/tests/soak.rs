//! A few runs of the fault soak in the test command (`tests/src/soak.rs`:
//! SIGKILLs of tills, relay and cloud, links cut and paused, clocks set
//! back and ahead, a revoked till; then every sale in the cloud exactly
//! once, the ledger equal to the Z reports, nothing wedged). The long run
//! is `cargo run -p sentra-e2e --bin soak -- --runs 1000` (figures in
//! `docs/fault-soak.md`). `SENTRA_SOAK_SEEDS=7` replays seed 7.

use anyhow::Result;
use sentra_e2e::soak::{Config, Soak, seeds_from_env};

#[test]
fn a_few_seeded_soak_runs_lose_nothing_double_nothing_and_wedge_nothing() -> Result<()> {
    let mut soak = Soak::start()?;
    for seed in seeds_from_env(&[1, 2, 3]) {
        let r = soak.run(seed, Config::default())?;
        println!(
            "seed {seed}: {} sales, faults {:?}, {:.1} s",
            r.sales,
            r.faults,
            r.took.as_secs_f64()
        );
    }
    Ok(())
}
