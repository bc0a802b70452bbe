//! Agent installation (R3) on both backends: the targets become hosts
//! waiting for their agent (status `installing`), each with its own
//! one-time token; the one script ticket's tasks are dispatched to the
//! installation host with each target's parameters, which are stored
//! encrypted; a failed task shows as `install_failed`.

use coc_domain::DEFAULT_TENANT as T;
use coc_domain::agent_install::InstallSpec;
use coc_store::jobticket::JobCommand;
use serde_json::json;

use crate::each_store;
use crate::support::host;

fn spec(via: &str) -> InstallSpec {
    serde_json::from_value(json!({
        "installation_host": via,
        "targets": [
            {"address": "10.0.0.5", "password": "Pw-one-1"},
            {"address": "10.0.0.6", "password": "Pw-two-2"}
        ],
        "batch_size": 1,
    }))
    .unwrap()
}

#[tokio::test]
async fn targets_become_hosts_and_run_on_the_installation_host() {
    each_store!(|s| {
        let via = host(s, "jump").await;
        // Bad input changes nothing.
        let mut bad = spec("jump");
        bad.targets[0].address = "10.0.0.5 && reboot".into();
        assert!(
            s.start_agent_install(T, &bad, "https://coc", "admin")
                .await
                .is_err()
        );
        assert!(
            s.start_agent_install(T, &spec("nope"), "https://coc", "admin")
                .await
                .is_err()
        );
        let before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM hosts")
            .fetch_one(s.pool())
            .await
            .unwrap();
        assert_eq!(before, 1);
        let started = s
            .start_agent_install(T, &spec("jump"), "https://coc", "admin")
            .await
            .unwrap();
        assert_eq!(started.hosts.len(), 2);
        let first = started.hosts[0].host_id.clone();
        let h = s.get_host(T, &first, 5_000).await.unwrap();
        assert_eq!(h.facts.hostname, "10.0.0.5");
        assert_eq!(h.agent_status.as_str(), "installing");
        // Each target has its own one-time token.
        let tokens: Vec<(i64, i64)> =
            sqlx::query_as("SELECT max_uses, uses FROM agent_enrollments ORDER BY name")
                .fetch_all(s.pool())
                .await
                .unwrap();
        assert_eq!(tokens, vec![(1, 0), (1, 0)]);
        // Stored encrypted, delegated to the installation host.
        let rows: Vec<(Option<String>, Option<String>)> =
            sqlx::query_as("SELECT runs_on, target_params FROM job_hosts")
                .fetch_all(s.pool())
                .await
                .unwrap();
        assert_eq!(rows.len(), 2);
        for (runs_on, params) in &rows {
            assert_eq!(runs_on.as_deref(), Some(via.as_str()));
            assert!(
                !params.as_deref().unwrap().contains("Pw-"),
                "encrypted at rest"
            );
        }
        // The first batch runs on the installation host, with the first
        // target's parameters, its password marked secret.
        let id = started.ticket.id.clone();
        let mut cmds = Vec::new();
        for _ in 0..5 {
            cmds.extend(s.advance_job_ticket(&id, s.now(), &|_| true).await.unwrap());
        }
        let execs: Vec<_> = cmds
            .iter()
            .filter_map(|c| match c {
                JobCommand::Exec {
                    run_id,
                    host_id,
                    env,
                    secret_env,
                    ..
                } => Some((
                    run_id.clone(),
                    host_id.clone(),
                    env.clone(),
                    secret_env.clone(),
                )),
                _ => None,
            })
            .collect();
        assert_eq!(execs.len(), 1, "one batch at a time: {cmds:?}");
        let (run, on, env, secret) = &execs[0];
        assert_eq!(on, &via);
        assert_eq!(env["TARGET"], "10.0.0.5");
        assert_eq!(env["PASSWORD"], "Pw-one-1");
        assert_eq!(env["SERVER"], "https://coc");
        assert!(env["TOKEN"].starts_with("coca_"));
        assert!(secret.contains(&"PASSWORD".to_string()) && secret.contains(&"TOKEN".to_string()));
        // The task fails on the installation host: install_failed.
        s.finish_job_run(
            run,
            Some(&via),
            coc_domain::ticket::TaskStatus::Failed,
            Some(255),
            Some("Permission denied"),
            None,
        )
        .await
        .unwrap();
        s.advance_job_ticket(&id, s.now(), &|_| true).await.unwrap();
        let h = s.get_host(T, &first, 5_000).await.unwrap();
        assert_eq!(h.agent_status.as_str(), "install_failed");

        // Another target's agent is started but never connects: the host
        // stays installing for a while, then shows install_failed, in the
        // list's status filter too.
        let mut one = spec("jump");
        one.targets.truncate(1);
        one.targets[0].address = "10.0.0.7".into();
        let again = s
            .start_agent_install(T, &one, "https://coc", "admin")
            .await
            .unwrap();
        let id = again.ticket.id.clone();
        let second = again.hosts[0].host_id.clone();
        let mut run2 = None;
        for _ in 0..5 {
            for c in s.advance_job_ticket(&id, s.now(), &|_| true).await.unwrap() {
                if let JobCommand::Exec { run_id, .. } = c {
                    run2 = Some(run_id);
                }
            }
        }
        let run2 = run2.expect("the second batch ran");
        s.finish_job_run(
            &run2,
            Some(&via),
            coc_domain::ticket::TaskStatus::Successful,
            Some(0),
            None,
            None,
        )
        .await
        .unwrap();
        s.advance_job_ticket(&id, s.now(), &|_| true).await.unwrap();
        let listed = |status: &str| {
            let s = s.clone();
            let f = coc_store::resource::list::ResourceFilter {
                status: coc_domain::resource::catalog::ResourceStatus::parse(status),
                ..Default::default()
            };
            async move {
                s.resource_page(
                    T,
                    5_000,
                    &f,
                    Default::default(),
                    &coc_store::Page {
                        limit: 10,
                        cursor: None,
                    },
                )
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|x| x.id().to_string())
                .collect::<Vec<_>>()
            }
        };
        assert_eq!(
            s.get_host(T, &second, 5_000)
                .await
                .unwrap()
                .agent_status
                .as_str(),
            "installing"
        );
        assert!(listed("installing").await.contains(&second));
        let long_ago = s.now() - coc_domain::resource::CONNECT_GRACE_MS - 1_000;
        sqlx::query("UPDATE job_hosts SET finished_at = $1 WHERE host_id = $2")
            .bind(long_ago)
            .bind(&second)
            .execute(s.pool())
            .await
            .unwrap();
        assert_eq!(
            s.get_host(T, &second, 5_000)
                .await
                .unwrap()
                .agent_status
                .as_str(),
            "install_failed"
        );
        let failed = listed("install_failed").await;
        assert!(
            failed.contains(&second) && failed.contains(&first),
            "{failed:?}"
        );
    });
}
