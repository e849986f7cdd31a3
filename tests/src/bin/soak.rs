//! The fault soak's long run: `cargo run -p sentra-e2e --bin soak --
//! [--runs N] [--first-seed S] [--seeds 1,2,3 | 100..110] [--tills N]
//! [--steps N]`. Build the binaries first (`cargo build --workspace
//! --bins`). One line per run; every failure names its seed, which replays
//! it (`--seeds S`). Exits 1 if any run failed.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use sentra_e2e::soak::{Config, Soak, parse_seeds};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let mut runs = 10u64;
    let mut first = 1u64;
    let mut seeds: Option<Vec<u64>> = None;
    let mut config = Config::default();
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--runs" => runs = value()?.parse()?,
            "--first-seed" => first = value()?.parse()?,
            "--seeds" => {
                let v = value()?;
                seeds = Some(parse_seeds(&v).with_context(|| format!("bad --seeds {v:?}"))?);
            }
            "--tills" => config.tills = value()?.parse()?,
            "--steps" => config.steps = value()?.parse()?,
            other => {
                bail!("unknown argument {other:?}; see the doc comment of tests/src/bin/soak.rs")
            }
        }
    }
    let seeds = seeds.unwrap_or_else(|| (first..first + runs).collect());
    let started = Instant::now();
    let mut soak = Soak::start()?;
    let (mut ok, mut failed, mut sales, mut faults, mut revoked) = (0u64, Vec::new(), 0, 0, 0);
    for seed in &seeds {
        match soak.run(*seed, config) {
            Ok(r) => {
                ok += 1;
                sales += r.sales;
                faults += r.faults.len();
                revoked += u64::from(r.revoked);
                println!(
                    "seed {seed}: ok, {} sales, {} faults{} in {:.1} s",
                    r.sales,
                    r.faults.len(),
                    if r.revoked { " (a till revoked)" } else { "" },
                    r.took.as_secs_f64()
                );
            }
            Err(e) => {
                println!("seed {seed}: FAILED: {e:#}");
                failed.push(*seed);
            }
        }
    }
    println!(
        "soak: {} runs, {ok} ok, {} failed {:?}; {sales} sales, {faults} faults, {revoked} runs with a revoked till; {:.0} s",
        seeds.len(),
        failed.len(),
        failed,
        started.elapsed().as_secs_f64()
    );
    if !failed.is_empty() {
        std::process::exit(1);
    }
    Ok(())
}
