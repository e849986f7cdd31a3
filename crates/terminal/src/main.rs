//! `sentra-term`: the terminal core from the command line, for support staff,
//! scripts and tests. Every command takes `--json` for machine output; errors
//! are one line on stderr and a non-zero exit.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::run()
}
