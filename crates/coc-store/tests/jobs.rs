//! Jobs (X3) and the job ticket state machine (X4) on both backends. The
//! agent and the server's HTTP calls are played by the test: it reports
//! results with `finish_job_run` and drives the executor step
//! (`advance_job_ticket`) on its own clock.

use coc_domain::DEFAULT_TENANT as T;
use coc_domain::job::{JobAction, JobSpec};
use coc_domain::ticket::{TaskStatus, TicketStatus};
use coc_store::jobticket::{JobCommand, JobTicketDetail, NewJobTicket};
use coc_store::{Store, StoreError};
use serde_json::json;

use crate::each_store;
use crate::support::host;

fn job(v: serde_json::Value) -> JobSpec {
    serde_json::from_value(v).unwrap()
}

async fn script(s: &Store, name: &str) {
    let spec = serde_json::from_value(json!({"name": name, "type": "shell",
        "content": "echo \"svc=$SVC\"", "risk_level": "low",
        "params": [{"name": "SVC", "default": "none"}]}))
    .unwrap();
    s.create_script(T, &spec, "dev").await.unwrap();
}

/// Advances the ticket until nothing changes; returns every command.
async fn drive(s: &Store, id: &str, now: i64, connected: bool) -> Vec<JobCommand> {
    let mut all = Vec::new();
    for _ in 0..10 {
        let c = s
            .advance_job_ticket(id, now, &move |_| connected)
            .await
            .unwrap();
        all.extend(c);
    }
    all
}

fn execs(c: &[JobCommand]) -> Vec<(String, String, String)> {
    c.iter()
        .filter_map(|c| match c {
            JobCommand::Exec {
                run_id,
                host_id,
                env,
                ..
            } => Some((
                run_id.clone(),
                host_id.clone(),
                env.get("SVC").cloned().unwrap_or_default(),
            )),
            _ => None,
        })
        .collect()
}

async fn detail(s: &Store, id: &str) -> JobTicketDetail {
    s.get_job_ticket(T, id).await.unwrap()
}

async fn ok(s: &Store, run: &str, out: &str) {
    s.append_job_output(run, &host_of(s, run).await, out)
        .await
        .unwrap();
    s.finish_job_run(run, None, TaskStatus::Successful, Some(0), None, None)
        .await
        .unwrap()
        .expect("the run was executing");
}

async fn fail(s: &Store, run: &str) {
    s.finish_job_run(run, None, TaskStatus::Failed, Some(3), None, None)
        .await
        .unwrap()
        .expect("the run was executing");
}

async fn host_of(s: &Store, run: &str) -> String {
    for t in s
        .list_job_tickets(T, None, None, &Default::default())
        .await
        .unwrap()
        .items
    {
        for st in detail(s, &t.id).await.steps {
            for h in st.hosts {
                if h.runs.iter().any(|r| r.id == run) {
                    return h.host_id;
                }
            }
        }
    }
    panic!("run {run} not found")
}

#[tokio::test]
async fn jobs_have_versions_review_tags_clones_and_common_jobs() {
    each_store!(|s| {
        s.ensure_tenant(T).await.unwrap();
        script(s, "echo-svc").await;
        let base = json!({"name": "restart-web", "risk_level": "low", "steps": [
            {"name": "one", "tasks": [{"name": "run-it", "atom": {"type": "script", "script": "echo-svc"}}]}]});
        let mut missing = base.clone();
        missing["steps"][0]["tasks"][0]["atom"]["script"] = json!("nope");
        let e = s.create_job(T, &job(missing), "dev").await.unwrap_err();
        assert!(e.to_string().contains("'nope'"), "{e}");
        let j = s.create_job(T, &job(base.clone()), "dev").await.unwrap();
        assert_eq!((j.version, j.review.status.as_str()), (1, "not_required"));
        assert!(matches!(
            s.create_job(T, &job(base.clone()), "dev").await,
            Err(StoreError::Conflict(_))
        ));
        // A high-risk version needs review; the author cannot approve it.
        let mut high = base.clone();
        high["risk_level"] = json!("high");
        high["reviewers"] = json!([{"type": "individual", "users": ["lead"]}]);
        let j2 = s.update_job(T, &j.id, &job(high), "dev").await.unwrap();
        assert_eq!((j2.version, j2.review.status.as_str()), (2, "pending"));
        let h = host(s, "web-1").await;
        let run = NewJobTicket {
            hosts: vec![h.clone()],
            ..Default::default()
        };
        let e = s.create_job_ticket(T, &j.id, &run, "op").await.unwrap_err();
        assert!(e.to_string().contains("waiting for review"), "{e}");
        // Version 1 needed no review and may still run.
        let v1 = NewJobTicket {
            version: Some(1),
            ..run.clone()
        };
        let t = s.create_job_ticket(T, &j.id, &v1, "op").await.unwrap();
        assert_eq!(t.ticket.job_version, 1);
        assert!(
            s.review_job(T, &j.id, "dev", true, None)
                .await
                .unwrap_err()
                .to_string()
                .contains("author")
        );
        assert!(s.review_job(T, &j.id, "mallory", true, None).await.is_err());
        let j3 = s
            .review_job(T, &j.id, "lead", true, Some("ok"))
            .await
            .unwrap();
        assert_eq!(j3.review.status, "approved");
        let t = s.create_job_ticket(T, &j.id, &run, "op").await.unwrap();
        assert_eq!(t.ticket.job_version, 2);
        let versions = s.job_versions(T, &j.id).await.unwrap();
        assert_eq!(
            versions.iter().map(|v| v.version).collect::<Vec<_>>(),
            [2, 1]
        );
        // Tags: at most 20; they do not make a version.
        let many: std::collections::BTreeMap<String, String> =
            (0..21).map(|i| (format!("k{i}"), "v".into())).collect();
        assert!(s.tag_job(T, &j.id, &many).await.is_err());
        let tagged = s
            .tag_job(T, &j.id, &[("team".to_string(), "sre".to_string())].into())
            .await
            .unwrap();
        assert_eq!(tagged.version, 2);
        assert_eq!(
            s.list_jobs(T, None, Some("team=sre")).await.unwrap().len(),
            1
        );
        assert!(
            s.list_jobs(T, None, Some("team=dev"))
                .await
                .unwrap()
                .is_empty()
        );
        // Clone.
        let c = s.clone_job(T, &j.id, "restart-web-2", "dev").await.unwrap();
        assert_eq!((c.version, c.spec.steps.len()), (1, 1));
        // Common jobs: shipped, runnable, read-only, cloneable.
        let common = s.get_job(T, "COC-Diagnose-and-Clean-Disks").await.unwrap();
        assert!(common.system);
        assert!(matches!(
            s.delete_job(T, &common.id).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            s.update_job(T, &common.id, &c.spec, "dev").await,
            Err(StoreError::Conflict(_))
        ));
        s.clone_job(T, &common.id, "my-clean", "dev").await.unwrap();
        s.create_job_ticket(T, &common.id, &run, "op")
            .await
            .unwrap();
        s.ensure_tenant(T).await.unwrap();
        s.delete_job(T, &c.id).await.unwrap();
        assert!(matches!(
            s.get_job(T, &c.id).await,
            Err(StoreError::NotFound { .. })
        ));
    });
}

#[tokio::test]
async fn a_ticket_runs_steps_batches_atoms_and_strategies() {
    each_store!(|s| {
        s.ensure_tenant(T).await.unwrap();
        script(s, "echo-svc").await;
        let h1 = host(s, "web-1").await;
        let h2 = host(s, "web-2").await;
        let j = s
            .create_job(
                T,
                &job(json!({"name": "rolling", "risk_level": "low",
                "params": [{"name": "SERVICE", "value": "nginx"}, {"name": "PORTS", "type": "array", "value": "[80, 443]"}],
                "steps": [
                    {"name": "check", "tasks": [
                        {"name": "probe", "atom": {"type": "script", "script": "echo-svc",
                            "params": {"SVC": "{{SERVICE}}@{{host.name}}:{{PORTS}}"}}, "on_failure": "continue"},
                        {"name": "healthy", "atom": {"type": "condition", "task": "probe", "pattern": "^ok"}},
                        {"name": "settle", "atom": {"type": "sleep", "seconds": 5}}]},
                    {"name": "restart", "tasks": [
                        {"name": "approve", "atom": {"type": "approval", "reviewers": [{"type": "individual", "users": ["lead"]}], "channels": ["slack"]}},
                        {"name": "reboot", "atom": {"type": "reboot", "wait_s": 60}},
                        {"name": "health", "atom": {"type": "http", "url": "http://{{host.ip}}/health"}}]}]})),
                "dev",
            )
            .await
            .unwrap();
        let t = s
            .create_job_ticket(
                T,
                &j.id,
                &NewJobTicket {
                    hosts: vec![h1.clone(), h2.clone()],
                    batch_policy: coc_domain::ticket::BatchPolicy::None,
                    ..Default::default()
                },
                "op",
            )
            .await
            .unwrap();
        let id = t.ticket.id.clone();
        assert!(t.ticket.number.starts_with("JOB"));
        let t0 = 1_000_000_000_000;
        let c = drive(s, &id, t0, true).await;
        let ex = execs(&c);
        assert_eq!(ex.len(), 2, "{c:?}");
        assert!(ex.iter().any(|e| e.2 == "nginx@web-1:80,443"), "{ex:?}");
        // Sent once: another step sends nothing new.
        assert!(drive(s, &id, t0, true).await.is_empty());
        let r1 = ex.iter().find(|e| e.1 == h1).unwrap().0.clone();
        let r2 = ex.iter().find(|e| e.1 == h2).unwrap().0.clone();
        ok(s, &r1, "ok svc\n").await;
        fail(s, &r2).await;
        // A repeated result changes nothing.
        assert!(
            s.finish_job_run(&r1, None, TaskStatus::Failed, None, None, None)
                .await
                .unwrap()
                .is_none()
        );
        drive(s, &id, t0, true).await;
        let d = detail(s, &id).await;
        let hosts = &d.steps[0].hosts;
        let w1 = hosts.iter().find(|h| h.host_id == h1).unwrap();
        let w2 = hosts.iter().find(|h| h.host_id == h2).unwrap();
        // web-1: condition held, now sleeping; web-2: probe failed
        // (continue), the condition did not hold, so it skipped the rest.
        assert_eq!(w1.runs.len(), 3, "{w1:#?}");
        assert_eq!(w1.runs[2].phase.as_deref(), Some("sleep"), "{w1:#?}");
        assert_eq!(w2.status, TaskStatus::Failed);
        assert_eq!(
            w2.runs
                .iter()
                .map(|r| r.status.as_str())
                .collect::<Vec<_>>(),
            ["failed", "skipped"]
        );
        assert_eq!(d.ticket.status, TicketStatus::Executing);
        assert_eq!(d.ticket.current_step, 0);
        // The sleep ends on the clock; step 2 starts, without web-2.
        drive(s, &id, t0 + 4_000, true).await;
        assert_eq!(detail(s, &id).await.ticket.current_step, 0);
        drive(s, &id, t0 + 5_000, true).await;
        let d = detail(s, &id).await;
        assert_eq!(d.ticket.current_step, 1);
        let s2 = &d.steps[1];
        let skipped = s2.hosts.iter().find(|h| h.host_id == h2).unwrap();
        assert_eq!(skipped.status, TaskStatus::Cancelled);
        assert!(skipped.error.as_deref().unwrap().contains("earlier step"));
        assert_eq!(d.approvals.len(), 1);
        assert_eq!(d.approvals[0].status, "pending");
        // The reviewers were asked, once.
        let asked: Vec<_> = s
            .list_deliveries(T, None, &Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|d| d.event == "job_approval_requested")
            .collect();
        assert_eq!(asked.len(), 1, "{asked:?}");
        // Approval: only a reviewer; then the reboot is sent.
        assert!(
            s.decide_job_approval(T, &id, 1, 0, "mallory", true, None)
                .await
                .is_err()
        );
        s.decide_job_approval(T, &id, 1, 0, "lead", true, Some("go"))
            .await
            .unwrap();
        assert!(
            s.decide_job_approval(T, &id, 1, 0, "lead", true, None)
                .await
                .is_err(),
            "decided once"
        );
        let c = drive(s, &id, t0 + 6_000, true).await;
        let reboot = c
            .iter()
            .find_map(|c| match c {
                JobCommand::Reboot { run_id, host_id } if *host_id == h1 => Some(run_id.clone()),
                _ => None,
            })
            .expect("a reboot is sent");
        // The agent says the reboot started: the run waits for a new boot id.
        s.finish_job_run(
            &reboot,
            Some(&h1),
            TaskStatus::Successful,
            Some(0),
            None,
            None,
        )
        .await
        .unwrap();
        drive(s, &id, t0 + 7_000, true).await;
        let run = |d: &JobTicketDetail| d.steps[1].hosts[0].runs.last().cloned().unwrap();
        let d = detail(s, &id).await;
        assert_eq!(
            (run(&d).kind.as_str(), run(&d).phase.as_deref()),
            ("reboot", Some("boot"))
        );
        let mut facts = coc_store::resource::HostFacts {
            agent_id: "agent-web-1".into(),
            hostname: "web-1".into(),
            ips: vec!["10.9.9.9".into()],
            os: "Linux".into(),
            arch: "x86_64".into(),
            cpu_cores: 2,
            memory_bytes: 1 << 30,
            agent_version: "test".into(),
            boot_id: "second-boot".into(),
            proxy: None,
            proxy_listen: None,
            agent_sha256: String::new(),
        };
        s.upsert_host(T, &facts).await.unwrap();
        // Back with a new boot id, but its agent is not connected yet.
        drive(s, &id, t0 + 8_000, false).await;
        assert_eq!(run(&detail(s, &id).await).status, "executing");
        let c = drive(s, &id, t0 + 8_000, true).await;
        let http = c
            .iter()
            .find_map(|c| match c {
                JobCommand::Http { run_id, url, .. } => Some((run_id.clone(), url.clone())),
                _ => None,
            })
            .expect("the HTTP check starts");
        assert_eq!(http.1, "http://10.9.9.9/health");
        s.finish_job_run(
            &http.0,
            None,
            TaskStatus::Successful,
            None,
            None,
            Some("GET … → HTTP 200\n"),
        )
        .await
        .unwrap();
        drive(s, &id, t0 + 9_000, true).await;
        let d = detail(s, &id).await;
        // web-2 failed in step 1: the ticket fails, web-1 went all the way.
        assert_eq!(d.ticket.status, TicketStatus::Failed, "{:#?}", d.ticket);
        assert!(d.ticket.finished_at.is_some());
        assert_eq!(d.steps[1].hosts[0].status, TaskStatus::Successful);
        assert_eq!(d.steps[0].status, "failed");
        // A reboot that never comes back fails after its wait.
        facts.boot_id = "third".into();
        s.upsert_host(T, &facts).await.unwrap();
        // Parameters are stored encrypted.
        let raw: String = sqlx::query_scalar("SELECT params FROM job_tickets WHERE id = $1")
            .bind(&id)
            .fetch_one(s.pool())
            .await
            .unwrap();
        assert!(!raw.contains("nginx"), "{raw}");
    });
}

#[tokio::test]
async fn post_fault_pause_retry_continue_stop_and_operator_actions() {
    each_store!(|s| {
        s.ensure_tenant(T).await.unwrap();
        script(s, "echo-svc").await;
        let hs = [
            host(s, "a-1").await,
            host(s, "a-2").await,
            host(s, "a-3").await,
        ];
        let j = s
            .create_job(
                T,
                &job(json!({"name": "strategies", "risk_level": "low", "steps": [
                    {"name": "s1", "tasks": [
                        {"name": "first", "atom": {"type": "script", "script": "echo-svc"}, "on_failure": "pause"},
                        {"name": "second", "atom": {"type": "script", "script": "echo-svc"}}]},
                    {"name": "s2", "tasks": [
                        {"name": "third", "atom": {"type": "script", "script": "echo-svc"}, "on_failure": "stop"}]},
                    {"name": "s3", "tasks": [
                        {"name": "never", "atom": {"type": "script", "script": "echo-svc"}}]}]})),
                "dev",
            )
            .await
            .unwrap();
        let t = s
            .create_job_ticket(
                T,
                &j.id,
                &NewJobTicket {
                    hosts: hs.to_vec(),
                    batch_policy: coc_domain::ticket::BatchPolicy::None,
                    ..Default::default()
                },
                "op",
            )
            .await
            .unwrap();
        let id = t.ticket.id.clone();
        let now = 2_000_000_000_000;
        let ex = execs(&drive(s, &id, now, true).await);
        assert_eq!(ex.len(), 3);
        // a-1 fails the first task: the ticket pauses and holds it.
        fail(s, &ex[0].0).await;
        ok(s, &ex[1].0, "x").await;
        let more = execs(&drive(s, &id, now, true).await);
        let d = detail(s, &id).await;
        assert_eq!(d.ticket.status, TicketStatus::Paused);
        assert!(
            d.ticket
                .reason
                .as_deref()
                .unwrap()
                .contains("pauses the job")
        );
        assert!(d.steps[0].hosts[0].held);
        assert!(more.is_empty(), "paused: a-2 does not go on to 'second'");
        for bad in [JobAction::Pause, JobAction::TerminateAll] {
            if bad == JobAction::TerminateAll {
                continue;
            }
            assert!(matches!(
                s.job_ticket_action(T, &id, bad, "op").await,
                Err(StoreError::Domain(_))
            ));
        }
        // Retry: a-1 runs 'first' again (attempt 2).
        s.job_ticket_action(T, &id, JobAction::RetryFailed, "op")
            .await
            .unwrap();
        let again = execs(&drive(s, &id, now, true).await);
        let retry = again
            .iter()
            .find(|e| e.1 == hs[0])
            .expect("retried")
            .0
            .clone();
        assert_ne!(retry, ex[0].0, "a retry is a new run id");
        let d = detail(s, &id).await;
        let a1 = &d.steps[0].hosts[0];
        assert_eq!(a1.runs.last().unwrap().attempt, 2);
        fail(s, &retry).await;
        // a-2 went on with 'second' when the ticket resumed.
        let second = again
            .iter()
            .find(|e| e.1 == hs[1])
            .expect("a-2 goes on")
            .0
            .clone();
        ok(s, &second, "x").await;
        drive(s, &id, now, true).await;
        assert_eq!(detail(s, &id).await.ticket.status, TicketStatus::Paused);
        // Continue: a-1 goes on with 'second' despite the failure.
        s.job_ticket_action(T, &id, JobAction::Continue, "op")
            .await
            .unwrap();
        let c = execs(&drive(s, &id, now, true).await);
        for (run, _, _) in &c {
            ok(s, run, "x").await;
        }
        // a-3's first run is still out: cancel that host.
        let (d, stop) = s.cancel_job_host(T, &id, &hs[2], "op").await.unwrap();
        assert!(matches!(&stop[..], [JobCommand::Cancel { run_id, .. }] if *run_id == ex[2].0));
        assert!(
            s.cancel_job_host(T, &id, &hs[2], "op").await.is_err(),
            "already cancelled"
        );
        let _ = d;
        drive(s, &id, now, true).await;
        let d = detail(s, &id).await;
        assert_eq!(d.ticket.current_step, 1, "{:#?}", d.steps[0]);
        // Step 2: only a-2 (a-1 failed, a-3 cancelled in step 1).
        let s2 = &d.steps[1];
        assert_eq!(
            s2.hosts.iter().map(|h| h.status).collect::<Vec<_>>(),
            [
                TaskStatus::Cancelled,
                TaskStatus::Executing,
                TaskStatus::Cancelled
            ]
        );
        let run = s2.hosts[1].runs[0].id.clone();
        // 'stop': the job ends failed and step 3 never runs.
        fail(s, &run).await;
        drive(s, &id, now, true).await;
        let d = detail(s, &id).await;
        assert_eq!(d.ticket.status, TicketStatus::Failed);
        assert!(
            d.ticket
                .reason
                .as_deref()
                .unwrap()
                .contains("stops the job")
        );
        assert!(
            d.steps[2]
                .hosts
                .iter()
                .all(|h| h.status == TaskStatus::Cancelled)
        );
        assert_eq!(d.steps[2].status, "cancelled");
        // Retry a failed ticket: it reopens, and every host that did not
        // complete every step runs again from the earliest such step —
        // a-1 (failed) and a-3 (cancelled) from step 1's first task.
        let (d, _) = s
            .job_ticket_action(T, &id, JobAction::RetryFailed, "op")
            .await
            .unwrap();
        assert_eq!(d.ticket.status, TicketStatus::Executing);
        assert!(d.ticket.finished_at.is_none());
        assert_eq!(d.ticket.current_step, 0);
        let r = execs(&drive(s, &id, now, true).await);
        let mut again: Vec<&str> = r.iter().map(|e| e.1.as_str()).collect();
        again.sort();
        let mut want = [hs[0].as_str(), hs[2].as_str()];
        want.sort();
        assert_eq!(again, want);
        // Terminate all: the current step ends, the ticket pauses before
        // the next one; continue goes on; forcibly end ends everything.
        let (d, stop) = s
            .job_ticket_action(T, &id, JobAction::TerminateAll, "op")
            .await
            .unwrap();
        assert_eq!(d.ticket.status, TicketStatus::Paused);
        assert_eq!(stop.len(), 2);
        assert!(
            s.finish_job_run(&r[0].0, None, TaskStatus::Successful, Some(0), None, None)
                .await
                .unwrap()
                .is_none(),
            "a cancelled run takes no late result"
        );
        s.job_ticket_action(T, &id, JobAction::Continue, "op")
            .await
            .unwrap();
        // Step 2 again: a-2 runs 'third'; a-1 and a-3 (cancelled in step 1)
        // are skipped.
        let third = execs(&drive(s, &id, now, true).await);
        assert_eq!(third.len(), 1);
        assert_eq!(third[0].1, hs[1]);
        ok(s, &third[0].0, "x").await;
        // Step 3: a-2 runs 'never'; the ticket then ends failed though no
        // task failed: a-1 and a-3 did not complete every step.
        let never = execs(&drive(s, &id, now, true).await);
        assert_eq!(never.len(), 1);
        ok(s, &never[0].0, "x").await;
        drive(s, &id, now, true).await;
        let d = detail(s, &id).await;
        assert_eq!(d.ticket.status, TicketStatus::Failed);
        assert!(
            d.ticket
                .reason
                .as_deref()
                .unwrap()
                .contains("not every host completed every step"),
            "{:?}",
            d.ticket.reason
        );
        assert_eq!(
            d.steps[2]
                .hosts
                .iter()
                .map(|h| h.status)
                .collect::<Vec<_>>(),
            [
                TaskStatus::Cancelled,
                TaskStatus::Successful,
                TaskStatus::Cancelled
            ]
        );
        // Clone: the same request as a new ticket; forcibly end it.
        let c = s.clone_job_ticket(T, &id, "op2").await.unwrap();
        assert_eq!(c.ticket.cloned_from.as_deref(), Some(id.as_str()));
        assert_eq!(c.steps[0].hosts.len(), 3);
        assert_eq!(c.ticket.status, TicketStatus::Executing);
        let cid = c.ticket.id.clone();
        let started = execs(&drive(s, &cid, now, true).await);
        assert_eq!(started.len(), 3);
        let (d, stop) = s
            .job_ticket_action(T, &cid, JobAction::ForciblyEnd, "op")
            .await
            .unwrap();
        assert_eq!(d.ticket.status, TicketStatus::Terminated);
        assert_eq!(stop.len(), 3, "the running scripts are stopped");
        assert!(
            d.steps
                .iter()
                .flat_map(|s| &s.hosts)
                .all(|h| h.status == TaskStatus::Cancelled)
        );
        assert!(matches!(
            s.job_ticket_action(T, &cid, JobAction::Continue, "op")
                .await,
            Err(StoreError::Domain(_))
        ));
        assert!(drive(s, &cid, now, true).await.is_empty());
    });
}

#[tokio::test]
async fn per_step_targets_thresholds_and_bad_requests() {
    each_store!(|s| {
        s.ensure_tenant(T).await.unwrap();
        script(s, "echo-svc").await;
        let mut hs = Vec::new();
        for i in 0..4 {
            hs.push(host(s, &format!("b-{i}")).await);
        }
        let j = s
            .create_job(
                T,
                &job(json!({"name": "two-steps", "risk_level": "low", "steps": [
                    {"name": "s1", "tasks": [{"name": "task-1", "atom": {"type": "script", "script": "echo-svc"}, "on_failure": "continue"}]},
                    {"name": "s2", "tasks": [{"name": "task-2", "atom": {"type": "script", "script": "echo-svc"}}]}]})),
                "dev",
            )
            .await
            .unwrap();
        let bad = |req: serde_json::Value| {
            let req: NewJobTicket = serde_json::from_value(req).unwrap();
            let j = j.id.clone();
            async move { s.create_job_ticket(T, &j, &req, "op").await.unwrap_err() }
        };
        let e = bad(json!({"target_mode": "unique_per_step", "steps": [{"hosts": [hs[0]]}]})).await;
        assert!(e.to_string().contains("step 2"), "{e}");
        let e = bad(json!({"hosts": [hs[0]], "steps": [{"hosts": [hs[1]]}]})).await;
        assert!(e.to_string().contains("unique_per_step"), "{e}");
        let e = bad(json!({"hosts": ["nope"]})).await;
        assert!(matches!(e, StoreError::NotFound { .. }), "{e}");
        let e = bad(json!({"hosts": [hs[0]], "success_rate_threshold": 101})).await;
        assert!(e.to_string().contains("threshold"), "{e}");
        let e = bad(json!({"hosts": [hs[0]], "params": {"X": "1"}})).await;
        assert!(e.to_string().contains("'X'"), "{e}");
        let e = bad(json!({"hosts": [hs[0]], "steps": [{}, {}, {}]})).await;
        assert!(e.to_string().contains("2 step"), "{e}");
        assert!(
            s.list_job_tickets(T, None, None, &Default::default())
                .await
                .unwrap()
                .items
                .is_empty(),
            "nothing is written by a refused request"
        );
        // Step 1 on three hosts, no batches, 60 %: the 2nd failure breaks.
        let t = s
            .create_job_ticket(
                T,
                &j.id,
                &serde_json::from_value(json!({"target_mode": "unique_per_step", "steps": [
                    {"hosts": [hs[0], hs[1], hs[2]], "batch_policy": "none", "success_rate_threshold": 60},
                    {"hosts": [hs[3]], "batch_policy": "auto"}]}))
                .unwrap(),
                "op",
            )
            .await
            .unwrap();
        let id = t.ticket.id.clone();
        assert_eq!(t.steps[0].success_rate_threshold, Some(60.0));
        let now = 3_000_000_000_000;
        let ex = execs(&drive(s, &id, now, true).await);
        // 3 hosts at 60 %: breaking count 2 → at most 2 in flight.
        assert_eq!(ex.len(), 2);
        fail(s, &ex[0].0).await;
        fail(s, &ex[1].0).await;
        drive(s, &id, now, true).await;
        let d = detail(s, &id).await;
        assert_eq!(d.ticket.status, TicketStatus::Abnormal);
        assert_eq!(d.steps[0].counts.pending, 1, "no overshoot");
        assert!(matches!(
            s.job_ticket_action(T, &id, JobAction::Continue, "op").await,
            Err(StoreError::Domain(_))
        ));
        // Retry the failed hosts; this time they succeed and step 2 runs
        // on its own host.
        s.job_ticket_action(T, &id, JobAction::RetryFailed, "op")
            .await
            .unwrap();
        let ex = execs(&drive(s, &id, now, true).await);
        assert_eq!(ex.len(), 2);
        for e in &ex {
            ok(s, &e.0, "fine").await;
        }
        let ex = execs(&drive(s, &id, now, true).await);
        assert_eq!(ex.len(), 1, "the third host starts");
        ok(s, &ex[0].0, "fine").await;
        let ex = execs(&drive(s, &id, now, true).await);
        assert_eq!(ex.len(), 1);
        assert_eq!(ex[0].1, hs[3], "step 2 runs on its own host");
        ok(s, &ex[0].0, "fine").await;
        drive(s, &id, now, true).await;
        let d = detail(s, &id).await;
        assert_eq!(d.ticket.status, TicketStatus::Successful, "{:#?}", d.steps);
        let listed = s
            .list_job_tickets(
                T,
                Some("successful"),
                Some("two-steps"),
                &Default::default(),
            )
            .await
            .unwrap();
        assert_eq!(listed.items.len(), 1);
    });
}

#[tokio::test]
async fn scheduled_tasks_and_emergency_plans_run_jobs() {
    use chrono::{DateTime, Utc};
    each_store!(|s| {
        crate::support::users(s, &["ann"]).await;
        s.ensure_tenant(T).await.unwrap();
        script(s, "echo-svc").await;
        let h = host(s, "c-1").await;
        s.create_job(
            T,
            &job(json!({"name": "nightly-check", "risk_level": "low",
                "params": [{"name": "SERVICE", "value": "db"}],
                "steps": [{"name": "s1", "tasks": [{"name": "probe", "atom": {"type": "script",
                    "script": "echo-svc", "params": {"SVC": "{{SERVICE}}"}}}]}]})),
            "dev",
        )
        .await
        .unwrap();
        // A scheduled task that runs the job.
        let bad: coc_domain::schedule::ScheduledTaskSpec = serde_json::from_value(json!({
            "name": "both", "script": "echo-svc", "job": "nightly-check", "hosts": [h],
            "timing": {"tz": "UTC", "trigger": {"type": "cycle", "every": 10, "unit": "minutes", "start": "2026-01-01T00:00:00"}},
            "reviewers": [{"type": "individual", "users": ["lead"]}]}))
        .unwrap();
        assert!(s.create_scheduled_task(T, &bad, "ann").await.is_err());
        let spec: coc_domain::schedule::ScheduledTaskSpec = serde_json::from_value(json!({
            "name": "nightly", "job": "nightly-check", "hosts": [h], "params": {"SERVICE": "cache"},
            "timing": {"tz": "UTC", "trigger": {"type": "cycle", "every": 10, "unit": "minutes", "start": "2026-01-01T00:00:00"}},
            "reviewers": [{"type": "individual", "users": ["lead"]}],
            "recipients": [{"type": "individual", "users": ["lead"]}], "channels": ["slack"]}))
        .unwrap();
        let t = s.create_scheduled_task(T, &spec, "ann").await.unwrap();
        s.review_scheduled_task(T, &t.id, "lead", true)
            .await
            .unwrap();
        let t = s.set_scheduled_task_enabled(T, &t.id, true).await.unwrap();
        let due = t.next_run_at.unwrap();
        let at = |ms: i64| DateTime::<Utc>::from_timestamp_millis(ms).unwrap();
        s.run_schedules(at(due), 5000).await.unwrap();
        let runs = s.scheduled_runs(T, &t.id).await.unwrap();
        assert_eq!(runs[0].status, "started");
        assert!(
            runs[0].detail.starts_with("job ticket"),
            "{}",
            runs[0].detail
        );
        let jt = runs[0].ticket_id.clone().unwrap();
        let ex = execs(&drive(s, &jt, due, true).await);
        assert_eq!(ex[0].2, "cache", "the task's parameters reach the job");
        ok(s, &ex[0].0, "svc=cache").await;
        drive(s, &jt, due, true).await;
        assert_eq!(detail(s, &jt).await.ticket.status, TicketStatus::Successful);
        s.run_schedules(at(due + 1), 5000).await.unwrap();
        let runs = s.scheduled_runs(T, &t.id).await.unwrap();
        assert_eq!(
            runs[0].status, "successful",
            "the run record follows its job ticket"
        );
        // An emergency plan whose action is the job, executed from an incident.
        let plan: coc_domain::plan::Plan = serde_json::from_value(json!({
            "name": "recover-db", "body": {"type": "automation", "action": {"job": "nightly-check"}}}))
        .unwrap();
        s.doc_create(T, &plan).await.unwrap();
        let both: coc_domain::plan::Plan = serde_json::from_value(json!({
            "name": "both", "body": {"type": "automation", "action": {"job": "nightly-check", "script": "x"}}}))
        .unwrap();
        assert!(s.doc_create(T, &both).await.is_err());
        let inc = s
            .create_incident(
                T,
                &serde_json::from_value(
                    json!({"title": "db down", "level": "P2", "assignee": "ann"}),
                )
                .unwrap(),
                "ann",
            )
            .await
            .unwrap()
            .incident;
        let out = s
            .execute_plan(
                T,
                &inc.id,
                &coc_store::plan::ExecutePlan {
                    plan: Some("recover-db".into()),
                    step: None,
                    hosts: vec![h.clone()],
                },
                "ann",
            )
            .await
            .unwrap();
        assert_eq!(out.kind(), "job");
        assert_eq!(out.incident_id(), Some(inc.id.as_str()));
        let id = out.id().to_string();
        let ex = execs(&drive(s, &id, due, true).await);
        ok(s, &ex[0].0, "svc=db").await;
        drive(s, &id, due, true).await;
        let hist = s.get_incident(T, &inc.id).await.unwrap().history;
        assert!(hist.iter().any(|e| e.action == "execute_plan"
            && e.summary.contains("job ticket")
            && e.ticket_id.as_deref() == Some(id.as_str())));
        assert!(
            hist.iter()
                .any(|e| e.summary.contains("successful")
                    && e.ticket_id.as_deref() == Some(id.as_str())),
            "the job's outcome lands in the incident history: {hist:#?}"
        );
    });
}

/// The defect found from outside: 3 hosts, manual batches [[H1],[H2,H3]],
/// post-fault strategy "stop"; H2 fails, H3 is cancelled, the ticket
/// fails. A retry must run H2 and H3 again in step 1 and every host in
/// step 2, and the ticket is successful only when all completed both.
#[tokio::test]
async fn a_retry_reruns_every_host_that_did_not_complete_every_step() {
    each_store!(|s| {
        s.ensure_tenant(T).await.unwrap();
        script(s, "echo-svc").await;
        let hs = [
            host(s, "r-1").await,
            host(s, "r-2").await,
            host(s, "r-3").await,
        ];
        let j = s
            .create_job(
                T,
                &job(json!({"name": "two-steps", "risk_level": "low", "steps": [
                    {"name": "s1", "tasks": [{"name": "one", "atom": {"type": "script", "script": "echo-svc"}}]},
                    {"name": "s2", "tasks": [{"name": "two", "atom": {"type": "script", "script": "echo-svc"}}]}]})),
                "dev",
            )
            .await
            .unwrap();
        let t = s
            .create_job_ticket(
                T,
                &j.id,
                &NewJobTicket {
                    hosts: hs.to_vec(),
                    batch_policy: coc_domain::ticket::BatchPolicy::Manual,
                    batches: Some(vec![
                        vec![hs[0].clone()],
                        vec![hs[1].clone(), hs[2].clone()],
                    ]),
                    ..Default::default()
                },
                "op",
            )
            .await
            .unwrap();
        let id = t.ticket.id.clone();
        let now = 2_000_000_000_000;
        let b1 = execs(&drive(s, &id, now, true).await);
        assert_eq!(b1.len(), 1, "batch 1: H1 only");
        ok(s, &b1[0].0, "x").await;
        let b2 = execs(&drive(s, &id, now, true).await);
        assert_eq!(b2.len(), 2, "batch 2: H2 and H3");
        let h2 = b2.iter().find(|e| e.1 == hs[1]).unwrap().0.clone();
        fail(s, &h2).await;
        let stop = drive(s, &id, now, true).await;
        assert!(
            stop.iter()
                .any(|c| matches!(c, JobCommand::Cancel { host_id, .. } if *host_id == hs[2])),
            "H3's run is stopped"
        );
        let d = detail(s, &id).await;
        assert_eq!(d.ticket.status, TicketStatus::Failed);
        // Retry: H2 and H3 run step 1 again (H1 completed it).
        let (d, _) = s
            .job_ticket_action(T, &id, JobAction::RetryFailed, "op")
            .await
            .unwrap();
        assert_eq!(
            (d.ticket.status, d.ticket.current_step),
            (TicketStatus::Executing, 0)
        );
        let r1 = execs(&drive(s, &id, now, true).await);
        let mut on: Vec<&str> = r1.iter().map(|e| e.1.as_str()).collect();
        on.sort();
        let mut want = [hs[1].as_str(), hs[2].as_str()];
        want.sort();
        assert_eq!(on, want);
        for (run, _, _) in &r1 {
            ok(s, run, "x").await;
        }
        // Step 2 runs on all three, batch by batch.
        let mut ran = Vec::new();
        for _ in 0..2 {
            for (run, host, _) in execs(&drive(s, &id, now, true).await) {
                ok(s, &run, "x").await;
                ran.push(host);
            }
        }
        ran.sort();
        let mut all = hs.to_vec();
        all.sort();
        assert_eq!(ran, all);
        drive(s, &id, now, true).await;
        let d = detail(s, &id).await;
        assert_eq!(d.ticket.status, TicketStatus::Successful);
        for st in &d.steps {
            assert_eq!(st.counts.successful, 3, "{st:#?}");
            assert_eq!(st.counts.cancelled, 0);
        }
    });
}
