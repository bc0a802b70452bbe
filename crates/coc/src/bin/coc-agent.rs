//! `coc-agent` — the agent alone, for hosts (R3, decision 0021): the same
//! agent and options as `coc agent`, without the server, the console and
//! the command-line client, so that it maps a fraction of the pages of
//! the one `coc` binary.
//!
//! ```text
//! coc-agent --server https://coc.example:8443 --token-file /etc/coc/enroll.token
//! ```

fn main() -> std::process::ExitCode {
    coc_agent::cli::main()
}
