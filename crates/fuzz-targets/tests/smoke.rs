//! The fuzz smoke of the test command, on the stable toolchain: every target
//! gets its seed corpus (`fuzz/corpus/<target>/`) and a few thousand seeded
//! mutations of it. A broken property names the target, the seed and the
//! input, and writes the input where `cargo fuzz run <target> <file>` can
//! replay it. The long runs are cargo-fuzz's (`docs/fuzzing.md`).
//!
//! `SENTRA_FUZZ_SMOKE_RUNS` (mutations per target, default 5000) and
//! `SENTRA_FUZZ_SMOKE_SEED` (default fixed) change the run.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use sentra_fuzz_targets::mutate::{Rng, mutate};
use sentra_fuzz_targets::{TARGETS, Target};

const DEFAULT_RUNS: usize = 5000;
const DEFAULT_SEED: u64 = 0x5e17_a2f0;

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

/// The committed seeds of `target` (`seed-*` files), sorted by name.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = corpus_dir(target);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("seed-"))
        })
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no seeds in {}", dir.display());
    paths
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect()
}

/// Runs `target` on `input`; on a panic, saves the input and fails with
/// everything needed to replay it.
fn run(name: &str, target: Target, input: &[u8], what: &str) {
    if catch_unwind(AssertUnwindSafe(|| target(input))).is_ok() {
        return;
    }
    let file = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-smoke-{name}"));
    let saved = std::fs::write(&file, input).map_or_else(
        |e| format!("(could not save it: {e})"),
        |()| format!("saved to {}", file.display()),
    );
    panic!(
        "fuzz target {name} failed on {what}; input {saved}:\n{}",
        String::from_utf8_lossy(input).escape_debug()
    );
}

#[test]
fn every_target_holds_on_its_seeds_and_their_mutations() {
    let runs = env_number("SENTRA_FUZZ_SMOKE_RUNS", DEFAULT_RUNS as u64) as usize;
    let seed = env_number("SENTRA_FUZZ_SMOKE_SEED", DEFAULT_SEED);
    for (name, target) in TARGETS {
        let corpus = seeds(name);
        for (i, input) in corpus.iter().enumerate() {
            run(name, target, input, &format!("seed {i}"));
        }
        let mut rng = Rng::new(seed);
        for i in 0..runs {
            let base = &corpus[rng.below(corpus.len())];
            let input = mutate(&mut rng, base, &corpus);
            run(
                name,
                target,
                &input,
                &format!("mutation {i} (SENTRA_FUZZ_SMOKE_SEED={seed})"),
            );
        }
    }
}

#[test]
fn every_target_has_a_cargo_fuzz_binary_and_seeds() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let manifest = std::fs::read_to_string(fuzz.join("Cargo.toml")).expect("fuzz/Cargo.toml");
    for (name, _) in TARGETS {
        let source = fuzz.join("fuzz_targets").join(format!("{name}.rs"));
        let text = std::fs::read_to_string(&source)
            .unwrap_or_else(|e| panic!("{}: {e}", source.display()));
        assert!(
            text.contains(&format!("sentra_fuzz_targets::{name}(")),
            "{} does not call sentra_fuzz_targets::{name}",
            source.display()
        );
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "fuzz/Cargo.toml has no [[bin]] {name}"
        );
        assert!(!seeds(name).is_empty());
    }
}
