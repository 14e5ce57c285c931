//! `pbx`: the switch (`pbx serve`), its administration commands and its load simulator.

mod api;
mod cli;
mod demo;
mod web;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than the system allocator: the switch allocates per message from
/// several threads, where glibc's malloc and free cost about a sixth of its CPU per
/// call (measured in BENCHMARKS.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pbx: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
