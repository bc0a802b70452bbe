//! The CLI against a real `coc server`: scripts written on Windows (CRLF)
//! are flagged by `coc script verify`, stored with LF, and `coc script
//! update` changes a script by name (issue 16, defect 1).

use std::process::Command;

use crate::support::{ADMIN, Env};

/// Runs `coc ARGS…` against the env's server; (success, stdout + stderr).
fn coc(env: &Env, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_coc"))
        .args(["--server", &env.url(), "--token", ADMIN])
        .args(args)
        .output()
        .expect("coc runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_line_ends_are_flagged_and_stored_as_lf_and_update_takes_a_name() {
    let env = Env::new();
    let _server = env.server(None).await;
    let crlf = env.dir.path().join("top.sh");
    std::fs::write(&crlf, "N=6\r\nseq 1 10 | head -n \"$N\"\r\n").unwrap();
    let f = crlf.to_str().unwrap();

    let (ok, out) = coc(&env, &["script", "verify", "--file", f]);
    assert!(ok, "{out}");
    assert!(out.contains("low_risk"), "{out}");
    assert!(
        out.contains("warning: line(s) 1, 2 end with a carriage return"),
        "{out}"
    );

    let (ok, out) = coc(&env, &["script", "create", "--name", "top", "--file", f]);
    assert!(ok, "{out}");
    let (_, shown) = coc(&env, &["--output", "json", "script", "show", "top"]);
    let v: serde_json::Value = serde_json::from_str(&shown).expect(&shown);
    assert_eq!(v["content"], "N=6\nseq 1 10 | head -n \"$N\"\n");
    assert_eq!(v["version"], 1);

    let lf = env.dir.path().join("top2.sh");
    std::fs::write(&lf, "echo updated\n").unwrap();
    let (ok, out) = coc(
        &env,
        &[
            "script",
            "update",
            "top",
            "--file",
            lf.to_str().unwrap(),
            "--description",
            "now shorter",
        ],
    );
    assert!(ok, "{out}");
    let (_, shown) = coc(&env, &["--output", "json", "script", "show", "top"]);
    let v: serde_json::Value = serde_json::from_str(&shown).expect(&shown);
    assert_eq!(
        (&v["content"], &v["description"], &v["version"], &v["type"]),
        (
            &serde_json::json!("echo updated\n"),
            &serde_json::json!("now shorter"),
            &serde_json::json!(2),
            &serde_json::json!("shell")
        )
    );
    let (ok, out) = coc(&env, &["script", "update", "no-such-script", "--file", f]);
    assert!(!ok && out.lines().count() <= 2, "one line: {out}");
}
