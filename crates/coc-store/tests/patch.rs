//! Patch work (P2, P3) on both backends: a scan is a ticket of the common
//! job whose run asks the agent to scan; its report (apt's simulation as
//! captured on a Debian 12 machine) is stored per host and package with
//! the run's end; a repair installs what the host's baseline approves and
//! records what it replaced; a rollback puts that back; compliance follows
//! the latest report; a reboot `if_required` happens only when one is
//! pending.

use coc_domain::DEFAULT_TENANT as T;
use coc_domain::patch::{PatchState, PatchWork, PatchWorkKind};
use coc_domain::ticket::TaskStatus;
use coc_proto::{PackageSeen, PatchAction, PatchReport};
use coc_store::Store;
use coc_store::jobticket::JobCommand;
use coc_store::report::Report;

use crate::each_store;
use crate::support::host;

/// `apt-get -s upgrade` as captured on a Debian 12 machine.
const APT: &str = include_str!("../../coc-domain/fixtures/apt-get-simulate-upgrade-bookworm.txt");

fn work(hosts: &[&str]) -> PatchWork {
    PatchWork {
        hosts: hosts.iter().map(|h| h.to_string()).collect(),
        baseline: None,
        reboot: false,
        batch_size: None,
        success_rate_threshold: None,
    }
}

/// A report: `offered` as apt's answer, liblzma5 installed at `lzma`.
fn report(offered: &str, lzma: &str, replaced: Vec<PackageSeen>, reboot: bool) -> PatchReport {
    PatchReport {
        manager: "apt".into(),
        os_id: "debian".into(),
        os_version: "12".into(),
        offered: offered.into(),
        installed: vec![
            PackageSeen {
                name: "liblzma5".into(),
                version: Some(lzma.into()),
            },
            PackageSeen {
                name: "bash".into(),
                version: Some("5.2.15-2+b2".into()),
            },
        ],
        replaced,
        reboot_packages: vec![],
        reboot_required: reboot,
    }
}

/// Starts patch work and steps its ticket until it sent its agent
/// commands; returns the ticket id and them.
async fn start(s: &Store, kind: PatchWorkKind, w: &PatchWork) -> (String, Vec<JobCommand>) {
    let t = s.start_patch_work(T, kind, w, "admin").await.unwrap();
    let mut cmds = Vec::new();
    for _ in 0..3 {
        cmds.extend(
            s.advance_job_ticket(&t.ticket.id, s.now(), &|_| true)
                .await
                .unwrap(),
        );
    }
    (t.ticket.id, cmds)
}

/// The one patch command of `cmds`: run id and action.
fn patch_cmd(cmds: &[JobCommand]) -> (String, PatchAction) {
    let found: Vec<_> = cmds
        .iter()
        .filter_map(|c| match c {
            JobCommand::Patch { run_id, action, .. } => Some((run_id.clone(), action.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(found.len(), 1, "{cmds:?}");
    found[0].clone()
}

async fn finish(s: &Store, run: &str, host: &str, ok: bool, r: PatchReport) {
    s.report(Report::Result {
        task_id: run.into(),
        host_id: host.into(),
        status: if ok {
            TaskStatus::Successful
        } else {
            TaskStatus::Failed
        },
        exit_code: Some(if ok { 0 } else { 100 }),
        error: None,
        patches: Some(Box::new(r)),
    })
    .await
    .unwrap();
}

async fn settle(s: &Store, ticket: &str) -> (String, Vec<JobCommand>) {
    let mut cmds = Vec::new();
    for _ in 0..4 {
        cmds.extend(
            s.advance_job_ticket(ticket, s.now(), &|_| true)
                .await
                .unwrap(),
        );
    }
    let t = s.get_job_ticket(T, ticket).await.unwrap();
    (t.ticket.status.as_str().to_string(), cmds)
}

#[tokio::test]
async fn scan_repair_and_rollback_follow_the_latest_report() {
    each_store!(|s| {
        let web = host(s, "web-1").await;
        s.ensure_tenant(T).await.unwrap();
        // Bad input changes nothing.
        assert!(
            s.start_patch_work(T, PatchWorkKind::Scan, &work(&[]), "admin")
                .await
                .is_err()
        );
        let mut bad = work(&["web-1"]);
        bad.reboot = true;
        assert!(
            s.start_patch_work(T, PatchWorkKind::Rollback, &bad, "admin")
                .await
                .is_err()
        );

        // Scan.
        let (ticket, cmds) = start(s, PatchWorkKind::Scan, &work(&["web-1"])).await;
        let (run, action) = patch_cmd(&cmds);
        assert_eq!(action, PatchAction::Scan { refresh: true });
        finish(s, &run, &web, true, report(APT, "5.4.1-1", vec![], false)).await;
        assert_eq!(settle(s, &ticket).await.0, "successful");
        let p = s.host_patches(T, "web-1", None).await.unwrap();
        assert_eq!(p.baseline.as_deref(), Some("COC-Debian-Default"));
        let r = p.report.clone().unwrap();
        assert_eq!((r.manager.as_str(), r.kind), ("apt", PatchWorkKind::Scan));
        assert_eq!(r.ticket_id.as_deref(), Some(ticket.as_str()));
        let lzma = p
            .patches
            .iter()
            .find(|x| x.patch.name == "liblzma5")
            .unwrap();
        // Offered today: the default baseline waits 7 days.
        assert_eq!(lzma.state, PatchState::InstalledOther);
        assert_eq!(lzma.patch.available.as_deref(), Some("5.4.1-1+deb12u2"));
        // 116 updates offered; each installed, not approved yet.
        assert_eq!(p.compliance.as_ref().unwrap().total, 116);
        assert!(p.compliance.as_ref().unwrap().compliant);

        // A baseline of the tenant's own approves liblzma5's fix.
        s.doc_create(
            T,
            &serde_json::from_value::<coc_domain::patch::BaselineSpec>(serde_json::json!({
                "name": "lzma", "os": "debian",
                "rules": {"type": "custom", "patches": [{"name": "liblzma5", "version": "5.4.1-1+deb12u2"}]}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
        let p = s
            .host_patches(T, &web, Some(PatchState::Missing))
            .await
            .unwrap();
        assert_eq!(p.baseline.as_deref(), Some("lzma"));
        assert_eq!(p.patches.len(), 1);
        let fleet = s.patch_compliance(T).await.unwrap();
        assert_eq!((fleet.compliant, fleet.non_compliant), (0, 1));

        // A failed repair marks the patch Failed.
        let (ticket, cmds) = start(s, PatchWorkKind::Repair, &work(&["web-1"])).await;
        let (run, action) = patch_cmd(&cmds);
        let want = PackageSeen {
            name: "liblzma5".into(),
            version: Some("5.4.1-1+deb12u2".into()),
        };
        assert_eq!(
            action,
            PatchAction::Install {
                packages: vec![want.clone()]
            }
        );
        let was = PackageSeen {
            name: "liblzma5".into(),
            version: Some("5.4.1-1".into()),
        };
        finish(
            s,
            &run,
            &web,
            false,
            report(APT, "5.4.1-1", vec![was.clone()], false),
        )
        .await;
        assert_eq!(settle(s, &ticket).await.0, "failed");
        let p = s.host_patches(T, &web, None).await.unwrap();
        let lzma = p
            .patches
            .iter()
            .find(|x| x.patch.name == "liblzma5")
            .unwrap();
        assert_eq!(lzma.state, PatchState::Failed);

        // A repair that installs it, with a reboot only if one is needed
        // (none is).
        let mut w = work(&["web-1"]);
        w.reboot = true;
        w.baseline = Some("lzma".into());
        let (ticket, cmds) = start(s, PatchWorkKind::Repair, &w).await;
        let (run, _) = patch_cmd(&cmds);
        let after = APT
            .lines()
            .filter(|l| !l.contains("liblzma5"))
            .collect::<Vec<_>>()
            .join("\n");
        finish(
            s,
            &run,
            &web,
            true,
            report(&after, "5.4.1-1+deb12u2", vec![was.clone()], false),
        )
        .await;
        let (status, cmds) = settle(s, &ticket).await;
        assert_eq!(status, "successful");
        assert!(
            !cmds.iter().any(|c| matches!(c, JobCommand::Reboot { .. })),
            "{cmds:?}"
        );
        let p = s.host_patches(T, &web, None).await.unwrap();
        let lzma = p
            .patches
            .iter()
            .find(|x| x.patch.name == "liblzma5")
            .unwrap();
        assert_eq!(lzma.state, PatchState::Installed);
        assert_eq!(
            lzma.patch.classification,
            coc_domain::patch::Classification::Security
        );
        assert!(p.compliance.unwrap().compliant);
        let r = p.report.unwrap();
        assert_eq!(r.kind, PatchWorkKind::Repair);
        assert_eq!(r.replaced.len(), 1);
        assert_eq!(r.replaced[0].version.as_deref(), Some("5.4.1-1"));

        // Rollback: the replaced version goes back.
        let (ticket, cmds) = start(s, PatchWorkKind::Rollback, &work(&["web-1"])).await;
        let (run, action) = patch_cmd(&cmds);
        assert_eq!(
            action,
            PatchAction::Install {
                packages: vec![was.clone()]
            }
        );
        finish(
            s,
            &run,
            &web,
            true,
            report(APT, "5.4.1-1", vec![want], true),
        )
        .await;
        assert_eq!(settle(s, &ticket).await.0, "successful");
        let p = s.host_patches(T, &web, None).await.unwrap();
        let r = p.report.clone().unwrap();
        assert!(r.replaced.is_empty());
        assert!(r.reboot_required);
        let lzma = p
            .patches
            .iter()
            .find(|x| x.patch.name == "liblzma5")
            .unwrap();
        assert_eq!(lzma.state, PatchState::Missing);

        // A reboot pending: the repair's reboot task reboots.
        let (ticket, cmds) = start(s, PatchWorkKind::Repair, &w).await;
        let (run, _) = patch_cmd(&cmds);
        finish(
            s,
            &run,
            &web,
            true,
            report(&after, "5.4.1-1+deb12u2", vec![was], true),
        )
        .await;
        let (_, cmds) = settle(s, &ticket).await;
        assert!(
            cmds.iter().any(|c| matches!(c, JobCommand::Reboot { .. })),
            "{cmds:?}"
        );
        // The host's rows go with it.
        s.job_ticket_action(T, &ticket, coc_domain::job::JobAction::ForciblyEnd, "admin")
            .await
            .ok();
        s.delete_host(T, &web).await.unwrap();
        assert!(s.patch_compliance(T).await.unwrap().items.is_empty());
    });
}
