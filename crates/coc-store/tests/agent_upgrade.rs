//! Agent upgrade (R3) on both backends: builds are kept by version in
//! pieces; an upgrade is a ticket of the common job whose run sends the
//! build's SHA-256 and size; the host's agent fetches the pieces of its
//! own run only; the host shows `upgrading` meanwhile; a success stands
//! only when the host's agent reports the wanted build.

use base64::Engine as _;
use coc_domain::DEFAULT_TENANT as T;
use coc_domain::agent_upgrade::{CHUNK_BYTES, UpgradeSpec};
use coc_domain::ticket::TaskStatus;
use coc_store::jobticket::JobCommand;
use sha2::Digest as _;

use crate::each_store;
use crate::support::host;

/// An ELF-looking build of `n` bytes.
fn build(n: usize, fill: u8) -> Vec<u8> {
    let mut b = b"\x7fELF".to_vec();
    b.resize(n, fill);
    b
}

fn spec(hosts: &[&str], build: &str) -> UpgradeSpec {
    UpgradeSpec {
        hosts: hosts.iter().map(|h| h.to_string()).collect(),
        build: build.into(),
        rollback_after_s: Some(30),
        batch_size: None,
        success_rate_threshold: None,
    }
}

#[tokio::test]
async fn builds_are_kept_and_an_upgrade_sends_and_checks_one() {
    each_store!(|s| {
        let web = host(s, "web-1").await;
        let other = host(s, "web-2").await;
        // Bad input changes nothing.
        for (version, bytes) in [
            ("1 0", build(10, 1)),
            ("1.0", b"MZ not for linux".to_vec()),
            ("1.0", vec![]),
        ] {
            assert!(
                s.add_agent_build(T, version, "", &bytes, "admin")
                    .await
                    .is_err()
            );
        }
        assert!(s.list_agent_builds(T).await.unwrap().is_empty());
        // Three and a half pieces.
        let size = CHUNK_BYTES as usize * 3 + 100;
        let bytes = build(size, 7);
        let b = s
            .add_agent_build(T, " 1.5.0 ", "slim", &bytes, "admin")
            .await
            .unwrap();
        assert_eq!(b.version, "1.5.0");
        assert_eq!(b.size_bytes, size as i64);
        assert_eq!(b.sha256, hex::encode(sha2::Sha256::digest(&bytes)));
        assert!(
            s.add_agent_build(T, "1.5.0", "", &bytes, "admin")
                .await
                .unwrap_err()
                .to_string()
                .contains("already exists")
        );
        assert_eq!(s.agent_build(T, "1.5.0").await.unwrap().id, b.id);
        assert_eq!(s.agent_build(T, &b.id).await.unwrap().version, "1.5.0");
        // An unknown build or host: nothing starts.
        assert!(
            s.start_agent_upgrade(T, &spec(&["web-1"], "9.9"), "admin")
                .await
                .is_err()
        );
        assert!(
            s.start_agent_upgrade(T, &spec(&["nope"], "1.5.0"), "admin")
                .await
                .is_err()
        );
        let t = s
            .start_agent_upgrade(T, &spec(&["web-1"], "1.5.0"), "admin")
            .await
            .unwrap();
        assert_eq!(t.ticket.job_name, coc_domain::agent_upgrade::JOB_NAME);
        let mut cmds = Vec::new();
        for _ in 0..3 {
            cmds.extend(
                s.advance_job_ticket(&t.ticket.id, s.now(), &|_| true)
                    .await
                    .unwrap(),
            );
        }
        let sent: Vec<_> = cmds
            .iter()
            .filter_map(|c| match c {
                JobCommand::Upgrade {
                    run_id,
                    host_id,
                    version,
                    sha256,
                    size_bytes,
                    rollback_after_s,
                } => Some((
                    run_id.clone(),
                    host_id.clone(),
                    version.clone(),
                    sha256.clone(),
                    *size_bytes,
                    *rollback_after_s,
                )),
                _ => None,
            })
            .collect();
        assert_eq!(sent.len(), 1, "{cmds:?}");
        let (run, on, version, sha, size_sent, rollback) = sent[0].clone();
        assert_eq!(
            (
                on.as_str(),
                version.as_str(),
                sha.as_str(),
                size_sent,
                rollback
            ),
            (web.as_str(), "1.5.0", b.sha256.as_str(), size as u64, 30)
        );
        assert_eq!(
            s.get_host(T, &web, 5_000).await.unwrap().status.as_str(),
            "upgrading"
        );
        // After a reconnect the agent is sent the same upgrade again.
        let again = s.redispatch(&web).await.unwrap();
        assert!(
            matches!(&again[..], [JobCommand::Upgrade { run_id, .. }] if *run_id == run),
            "{again:?}"
        );
        // The pieces, in order, make the build; only for this run and host.
        let mut got = Vec::new();
        let mut offset = 0u64;
        while offset < size as u64 {
            let piece = s
                .agent_upgrade_chunk(&run, &web, offset)
                .await
                .unwrap()
                .unwrap();
            let piece = base64::engine::general_purpose::STANDARD
                .decode(piece)
                .unwrap();
            offset += piece.len() as u64;
            got.extend(piece);
        }
        assert_eq!(got, bytes);
        assert!(
            s.agent_upgrade_chunk(&run, &web, offset)
                .await
                .unwrap()
                .is_err()
        );
        assert!(s.agent_upgrade_chunk(&run, &web, 5).await.unwrap().is_err());
        assert!(
            s.agent_upgrade_chunk(&run, &other, 0)
                .await
                .unwrap()
                .is_err()
        );
        // A success while the host reports another build fails.
        sqlx::query("UPDATE hosts SET agent_sha256 = $1 WHERE id = $2")
            .bind("ab".repeat(32))
            .bind(&web)
            .execute(s.pool())
            .await
            .unwrap();
        s.finish_job_run(
            &run,
            Some(&web),
            TaskStatus::Successful,
            Some(0),
            None,
            None,
        )
        .await
        .unwrap();
        let d = s.get_job_ticket(T, &t.ticket.id).await.unwrap();
        let text = serde_json::to_string(&d).unwrap();
        assert!(text.contains("not the wanted"), "{text}");
        // Once the host reports the build, a success stands; the build
        // counts it.
        sqlx::query("UPDATE hosts SET agent_sha256 = $1 WHERE id = $2")
            .bind(&b.sha256)
            .bind(&web)
            .execute(s.pool())
            .await
            .unwrap();
        let t2 = s
            .start_agent_upgrade(T, &spec(&[&web], &b.id), "admin")
            .await
            .unwrap();
        let mut cmds = Vec::new();
        for _ in 0..3 {
            cmds.extend(
                s.advance_job_ticket(&t2.ticket.id, s.now(), &|_| true)
                    .await
                    .unwrap(),
            );
        }
        let Some(JobCommand::Upgrade { run_id, .. }) = cmds
            .iter()
            .find(|c| matches!(c, JobCommand::Upgrade { .. }))
        else {
            panic!("{cmds:?}")
        };
        s.finish_job_run(
            run_id,
            Some(&web),
            TaskStatus::Successful,
            Some(0),
            None,
            None,
        )
        .await
        .unwrap();
        s.advance_job_ticket(&t2.ticket.id, s.now(), &|_| true)
            .await
            .unwrap();
        let d = s.get_job_ticket(T, &t2.ticket.id).await.unwrap();
        assert_eq!(d.ticket.status.as_str(), "successful");
        assert_eq!(
            s.get_host(T, &web, 5_000).await.unwrap().status.as_str(),
            "running"
        );
        assert_eq!(s.list_agent_builds(T).await.unwrap()[0].hosts, 1);
        // Deleted: its pieces go too.
        s.delete_agent_build(T, "1.5.0").await.unwrap();
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM agent_build_chunks")
            .fetch_one(s.pool())
            .await
            .unwrap();
        assert_eq!(left, 0);
        assert!(s.agent_build(T, "1.5.0").await.is_err());
    });
}
