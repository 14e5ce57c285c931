//! `pbx`: the switch (`pbx serve`), its administration commands and its load simulator.

mod api;
mod cli;
mod demo;

use std::process::ExitCode;

use clap::Parser;

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
