//! `coc` — one binary: `coc server`, `coc agent`, `coc dev`, and the
//! command-line client (`coc <noun> <verb>`). This file only wires the
//! roles together; see the crates for the work.

mod cli;
mod run;

use clap::Parser;

/// mimalloc instead of glibc's allocator: under alarm ingest glibc's
/// `malloc`/`free` (with `malloc_consolidate`) took about a quarter of the
/// server's CPU (decision 0016).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    coc_client::install_crypto();
    let args = cli::Cli::parse();
    let _ = run::LOG_FORMAT.set(args.conn.log_format);
    if !matches!(
        args.command,
        cli::Command::Agent(_) | cli::Command::Server(_) | cli::Command::Dev(_)
    ) {
        // A client command piped into `head` ends quietly, as Unix tools do,
        // instead of panicking on a broken pipe. (The long-running roles
        // keep SIGPIPE ignored: a closed socket or child pipe must not
        // kill them.)
        // SAFETY: resetting a signal disposition before any thread starts.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
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
