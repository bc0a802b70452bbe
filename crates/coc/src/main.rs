//! `coc` — one binary: `coc server`, `coc agent`, `coc dev`, and the
//! command-line client (`coc <noun> <verb>`). This file only wires the
//! roles together; see the crates for the work.

mod cli;
mod run;

use clap::Parser;

fn main() -> std::process::ExitCode {
    coc_client::install_crypto();
    let args = cli::Cli::parse();
    let rt = if matches!(args.command, cli::Command::Agent(_)) {
        // The agent is small: one thread keeps its idle memory low.
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    };
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(cli::dispatch(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
