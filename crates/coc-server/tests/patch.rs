//! Patch scan, repair and rollback (issue 19, P2/P3) with real apt on
//! this machine: the test builds two versions of two small packages with
//! `dpkg-deb`, serves the new ones from a local repository it makes with
//! `apt-ftparchive` (a `…-security` suite for one of them), installs the
//! old ones,
//! and then COC scans (the security one Missing under a baseline that
//! approves it), repairs (Installed) and rolls back (the old version
//! installed again) through the in-process agent. The packages, the
//! source and its lists are removed at the end; nothing else changes (the
//! scan does not refresh the machine's other package lists).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{ADMIN, Harness, request};

const ALPHA: &str = "coc-test-alpha";
const BETA: &str = "coc-test-beta";
const SOURCES: &str = "/etc/apt/sources.list.d/coc-test-patch.list";

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn have(bin: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {bin}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The installed version of `name`, if any.
fn installed(name: &str) -> Option<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Status} ${Version}", name])
        .output()
        .ok()?;
    let s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.strip_prefix("install ok installed ").map(str::to_string)
}

/// Builds `name` at `version` (architecture all) into `dir`.
fn build_deb(dir: &Path, name: &str, version: &str) -> PathBuf {
    let root = dir.join(format!("{name}-{version}"));
    std::fs::create_dir_all(root.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(root.join("usr/share").join(name)).unwrap();
    std::fs::write(
        root.join("DEBIAN/control"),
        format!(
            "Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: COC tests <coc@example.invalid>\n\
             Section: misc\nPriority: optional\nDescription: COC patch test package\n A package COC's tests install and remove.\n"
        ),
    )
    .unwrap();
    std::fs::write(root.join("usr/share").join(name).join("VERSION"), version).unwrap();
    let deb = dir.join(format!("{name}_{version}_all.deb"));
    run(Command::new("dpkg-deb")
        .args(["--build", "--root-owner-group"])
        .arg(&root)
        .arg(&deb));
    deb
}

/// Removes the test's packages, source and lists, whatever happened.
struct Cleanup {
    repo: PathBuf,
}

impl Cleanup {
    fn clean(repo: &Path) {
        let _ = Command::new("dpkg").args(["--purge", ALPHA, BETA]).output();
        let _ = std::fs::remove_file(SOURCES);
        // apt names its lists after the source's path.
        let marker = repo
            .to_string_lossy()
            .trim_start_matches('/')
            .replace('/', "_");
        if let Ok(d) = std::fs::read_dir("/var/lib/apt/lists") {
            for e in d.flatten() {
                if e.file_name().to_string_lossy().contains(&marker) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        Cleanup::clean(&self.repo);
    }
}

/// A repository at `root` laid out like Debian's: suite `coctest` holds
/// alpha at 1.0 (what a rollback returns to) and beta's bug fix 1.1;
/// suite `coctest-security` holds alpha's security fix 1.1. Unsigned
/// (`trusted=yes`).
fn make_repo(root: &Path, debs: &Path) {
    for (suite, files) in [
        (
            "coctest",
            [
                format!("{ALPHA}_1.0_all.deb"),
                format!("{BETA}_1.1_all.deb"),
            ]
            .to_vec(),
        ),
        ("coctest-security", vec![format!("{ALPHA}_1.1_all.deb")]),
    ] {
        let pool = root.join("pool").join(suite);
        std::fs::create_dir_all(&pool).unwrap();
        for f in &files {
            std::fs::copy(debs.join(f), pool.join(f)).unwrap();
        }
        let bin = root.join("dists").join(suite).join("main/binary-all");
        std::fs::create_dir_all(&bin).unwrap();
        let packages = run(Command::new("apt-ftparchive")
            .current_dir(root)
            .args(["packages", &format!("pool/{suite}")]));
        std::fs::write(bin.join("Packages"), packages).unwrap();
        let dist = root.join("dists").join(suite);
        let release = run(Command::new("apt-ftparchive").current_dir(&dist).args([
            "-o",
            "APT::FTPArchive::Release::Origin=COC-Test",
            "-o",
            "APT::FTPArchive::Release::Label=COC-Test",
            "-o",
            &format!("APT::FTPArchive::Release::Suite={suite}"),
            "-o",
            &format!("APT::FTPArchive::Release::Codename={suite}"),
            "-o",
            "APT::FTPArchive::Release::Version=1",
            "-o",
            "APT::FTPArchive::Release::Architectures=all amd64 arm64",
            "-o",
            "APT::FTPArchive::Release::Components=main",
            "release",
            ".",
        ]));
        std::fs::write(dist.join("Release"), release).unwrap();
    }
}

/// Waits (2 min at most) until a job ticket ends; returns it.
async fn ended(h: &Harness, id: &str) -> Value {
    let path = format!("/api/v1/job-tickets/{id}");
    let mut last = Value::Null;
    for _ in 0..1200 {
        last = h.client.get(&path, &[]).await.unwrap();
        if !["executing", "paused", "pending"].contains(&last["status"].as_str().unwrap_or("")) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("ticket {id} never ended: {last:#}");
}

/// Every run's output of a ticket, joined.
fn outputs(t: &Value) -> String {
    let mut all = String::new();
    for s in t["steps"].as_array().unwrap() {
        for hst in s["hosts"].as_array().unwrap() {
            for r in hst["runs"].as_array().into_iter().flatten() {
                all.push_str(r["output"].as_str().unwrap_or(""));
                all.push_str(r["error"].as_str().unwrap_or(""));
            }
        }
    }
    all
}

/// A host's patch named `name` in its compliance report.
fn row<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["patches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not in {report:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apt_scan_repair_and_rollback_with_a_local_repository() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let root_user = run(Command::new("id").arg("-u")).trim() == "0";
    let tools = ["apt-get", "dpkg-deb", "apt-ftparchive"]
        .iter()
        .all(|b| have(b));
    if !(tools && root_user) {
        assert!(
            !ci,
            "CI runs as root with apt, dpkg-deb and apt-ftparchive (apt-utils)"
        );
        eprintln!("skipped: needs root, apt-get, dpkg-deb and apt-ftparchive");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let debs = dir.path().join("debs");
    std::fs::create_dir_all(&debs).unwrap();
    Cleanup::clean(&repo);
    let _cleanup = Cleanup { repo: repo.clone() };
    for p in [ALPHA, BETA] {
        build_deb(&debs, p, "1.0");
        build_deb(&debs, p, "1.1");
    }
    make_repo(&repo, &debs);
    run(Command::new("dpkg")
        .arg("-i")
        .arg(debs.join(format!("{ALPHA}_1.0_all.deb")))
        .arg(debs.join(format!("{BETA}_1.0_all.deb"))));
    let src = repo.to_string_lossy();
    std::fs::write(
        SOURCES,
        format!(
            "deb [trusted=yes] file:{src} coctest main\ndeb [trusted=yes] file:{src} coctest-security main\n"
        ),
    )
    .unwrap();
    // Only this source's lists are fetched; the others stay as they are.
    run(Command::new("apt-get").args([
        "update",
        "-q",
        "-o",
        &format!("Dir::Etc::sourcelist={SOURCES}"),
        "-o",
        "Dir::Etc::sourceparts=-",
        "-o",
        "APT::Get::List-Cleanup=0",
    ]));

    let h = Harness::start(1).await;
    let host = h.wait_hosts(1).await.remove(0);
    let name = h.hostname(&host).await;

    // Bad input changes nothing.
    for (path, body, code) in [
        ("/api/v1/patch-scans", json!({"hosts": []}), 422),
        (
            "/api/v1/patch-rollbacks",
            json!({"hosts": [name], "baseline": "x"}),
            422,
        ),
        (
            "/api/v1/patch-repairs",
            json!({"hosts": [name], "baseline": "no-such"}),
            404,
        ),
        (
            "/api/v1/patch-scans",
            json!({"hosts": ["no-such-host"]}),
            404,
        ),
    ] {
        let (status, ct, b) = request(
            &h,
            "POST",
            path,
            Some(ADMIN),
            Some(serde_json::to_vec(&body).unwrap()),
        )
        .await;
        assert_eq!(status, code, "{path} {body}: {b}");
        assert_eq!(ct, "application/problem+json");
    }
    let before = h
        .client
        .get(&format!("/api/v1/patch-compliance/{name}"), &[])
        .await
        .unwrap();
    assert!(before["report"].is_null(), "{before}");
    // A repair before any scan fails and says why.
    let t = h
        .client
        .post("/api/v1/patch-repairs", &json!({"hosts": [name]}))
        .await
        .unwrap();
    let t = ended(&h, t["id"].as_str().unwrap()).await;
    assert_eq!(t["status"], "failed");
    assert!(outputs(&t).contains("scan it first"), "{t:#}");

    // A scan from a job of the patch_scan atom, without refreshing the
    // machine's other lists.
    let t = h.scan_patches_locally(&host).await;
    assert_eq!(t["status"], "successful", "{t:#}");
    let scanned = h
        .client
        .get(&format!("/api/v1/patch-compliance/{name}"), &[])
        .await
        .unwrap();
    let report = &scanned["report"];
    assert_eq!(report["manager"], "apt");
    assert_eq!(report["kind"], "scan");
    let os = report["os_id"].as_str().unwrap().to_string();
    assert!(!os.is_empty());
    // The security suite's update is a security patch, the other one a
    // bug fix; both offered at 1.1 over 1.0.
    let alpha = row(&scanned, ALPHA);
    assert_eq!(
        (
            &alpha["installed"],
            &alpha["available"],
            &alpha["classification"]
        ),
        (&json!("1.0"), &json!("1.1"), &json!("security")),
        "{alpha}"
    );
    let beta = row(&scanned, BETA);
    assert_eq!(beta["classification"], "bugfix", "{beta}");
    // The default baseline waits 7 days after a patch is first offered.
    if os == "debian" {
        assert_eq!(scanned["baseline"], "COC-Debian-Default");
        assert_eq!(alpha["state"], "installed_other", "{alpha}");
    }

    // A baseline of the tenant's own approves alpha at 1.1: Missing.
    let b = h
        .client
        .post(
            "/api/v1/patch-baselines",
            &json!({"name": "coc-test", "os": os, "compliance_level": "high",
                    "rules": {"type": "custom", "patches": [{"name": ALPHA, "version": "1.1"}]}}),
        )
        .await
        .unwrap();
    assert_eq!(b["name"], "coc-test");
    let missing = h
        .client
        .get(
            &format!("/api/v1/patch-compliance/{name}"),
            &[("state", "missing".into())],
        )
        .await
        .unwrap();
    assert_eq!(missing["baseline"], "coc-test");
    let names: Vec<&str> = missing["patches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, [ALPHA], "{missing:#}");
    assert_eq!(missing["compliance"]["compliant"], false);
    let fleet = h.client.get("/api/v1/patch-compliance", &[]).await.unwrap();
    assert_eq!(
        (fleet["compliant"].as_i64(), fleet["non_compliant"].as_i64()),
        (Some(0), Some(1)),
        "{fleet:#}"
    );
    assert_eq!(fleet["items"][0]["baseline"], "coc-test");
    assert_eq!(fleet["items"][0]["compliance"]["non_compliant"], 1);
    let (status, ct, csv) = request(
        &h,
        "GET",
        "/api/v1/patch-compliance/export",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!((status, ct.as_str()), (200, "text/csv; charset=utf-8"));
    let csv = csv.as_str().unwrap().to_string();
    assert!(csv.starts_with("host_id,host,os,baseline,"), "{csv}");
    assert!(
        csv.lines()
            .any(|l| l.contains(&name) && l.contains("coc-test,high,non_compliant,1,")),
        "{csv}"
    );

    // Repair: alpha 1.1 installed, beta left alone.
    let t = h
        .client
        .post(
            "/api/v1/patch-repairs",
            &json!({"hosts": [name], "batch_size": 1, "success_rate_threshold": 100}),
        )
        .await
        .unwrap();
    assert_eq!(t["job_name"], "COC-Patch-Repair");
    let t = ended(&h, t["id"].as_str().unwrap()).await;
    assert_eq!(t["status"], "successful", "{t:#}");
    let out = outputs(&t);
    assert!(
        out.contains("baseline coc-test approves 1 package(s)"),
        "{out}"
    );
    assert!(out.contains(&format!("{ALPHA} 1.1")), "{out}");
    assert_eq!(installed(ALPHA).as_deref(), Some("1.1"));
    assert_eq!(installed(BETA).as_deref(), Some("1.0"));
    let repaired = h
        .client
        .get(&format!("/api/v1/patch-compliance/{name}"), &[])
        .await
        .unwrap();
    assert_eq!(row(&repaired, ALPHA)["state"], "installed", "{repaired:#}");
    assert_eq!(row(&repaired, ALPHA)["classification"], "security");
    assert_eq!(repaired["compliance"]["compliant"], true);
    assert_eq!(repaired["report"]["kind"], "repair");
    assert_eq!(
        repaired["report"]["replaced"],
        json!([{"name": ALPHA, "version": "1.0"}])
    );

    // Rollback: the old version again, and the patch Missing again.
    let t = h
        .client
        .post("/api/v1/patch-rollbacks", &json!({"hosts": [name]}))
        .await
        .unwrap();
    let t = ended(&h, t["id"].as_str().unwrap()).await;
    assert_eq!(t["status"], "successful", "{t:#}");
    assert_eq!(installed(ALPHA).as_deref(), Some("1.0"));
    let back = h
        .client
        .get(&format!("/api/v1/patch-compliance/{name}"), &[])
        .await
        .unwrap();
    assert_eq!(row(&back, ALPHA)["state"], "missing", "{back:#}");
    assert_eq!(back["report"]["replaced"], json!([]));
    // Nothing left to roll back.
    let t = h
        .client
        .post("/api/v1/patch-rollbacks", &json!({"hosts": [name]}))
        .await
        .unwrap();
    let t = ended(&h, t["id"].as_str().unwrap()).await;
    assert_eq!(t["status"], "successful");
    assert!(outputs(&t).contains("nothing to roll back"), "{t:#}");
    // The host's patches as CSV.
    let (status, _, csv) = request(
        &h,
        "GET",
        &format!("/api/v1/patch-compliance/{name}/export?state=missing"),
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let csv = csv.as_str().unwrap().to_string();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(
        csv.lines().nth(1).unwrap().starts_with(&format!(
            "{name},{ALPHA},1.0,1.1,security,none,high,coc-test,"
        )),
        "{csv}"
    );
}

/// A package of the dnf test: its spec for `rpmbuild` (`%{ver}` given).
fn rpm_spec(name: &str) -> String {
    format!(
        "Name: {name}\nVersion: %{{ver}}\nRelease: 1\nSummary: COC test package\nLicense: MIT\n\
         BuildArch: noarch\n%description\nCOC test package.\n%install\n\
         mkdir -p %{{buildroot}}/opt/coc-test\necho %{{ver}} > %{{buildroot}}/opt/coc-test/{name}\n\
         %files\n/opt/coc-test/{name}\n"
    )
}

/// The dnf repository's advisories: a security one (Important) for the
/// first package's 1.1, a bug fix for the second's.
fn updateinfo(alpha: &str, beta: &str) -> String {
    let update = |kind: &str, id: &str, severity: &str, date: &str, pkg: &str| {
        format!(
            "<update from=\"errata@coc.test\" status=\"stable\" type=\"{kind}\" version=\"2.0\">\
             <id>{id}</id><title>{pkg} update</title>{severity}\
             <issued date=\"{date}\"/><updated date=\"{date}\"/><description>Fixes it.</description>\
             <references/><pkglist><collection short=\"coc\"><name>coc</name>\
             <package name=\"{pkg}\" version=\"1.1\" release=\"1\" epoch=\"0\" arch=\"noarch\">\
             <filename>{pkg}-1.1-1.noarch.rpm</filename></package></collection></pkglist></update>"
        )
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><updates>{}{}</updates>",
        update(
            "security",
            "COCSA-2026:0001",
            "<severity>Important</severity>",
            "2026-11-20 10:00:00",
            alpha
        ),
        update("bugfix", "COCBA-2026:0002", "", "2026-10-02 08:30:00", beta)
    )
}

/// Patch scan, repair and rollback with real dnf (P2): the test builds
/// two versions of two small RPMs (`rpmbuild`), a repository with an
/// `updateinfo.xml` (`createrepo_c`, `modifyrepo_c`), installs the old
/// versions into a root of its own (`dnf --installroot`), and an agent
/// whose patch work drives dnf in that root scans (the security advisory
/// read: Important, dated), repairs (1.1 installed) and rolls back (1.0
/// again). Nothing outside the test's directory changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dnf_scan_repair_and_rollback_in_a_root_of_its_own() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let tools = ["dnf", "rpm", "rpmbuild", "createrepo_c", "modifyrepo_c"]
        .iter()
        .all(|b| have(b));
    if !tools {
        assert!(
            !ci,
            "CI has dnf, rpm, rpmbuild and createrepo_c (dnf, rpm, createrepo-c)"
        );
        eprintln!("skipped: needs dnf, rpm, rpmbuild, createrepo_c and modifyrepo_c");
        return;
    }
    let (alpha, beta) = ("coc-dnf-alpha", "coc-dnf-beta");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let repo = d.join("repo");
    for p in [alpha, beta] {
        let spec = d.join(format!("{p}.spec"));
        std::fs::write(&spec, rpm_spec(p)).unwrap();
        for v in ["1.0", "1.1"] {
            run(Command::new("rpmbuild")
                .arg("-bb")
                .args(["--define", &format!("ver {v}")])
                .args([
                    "--define",
                    &format!("_topdir {}", d.join("build").display()),
                ])
                .args(["--define", &format!("_rpmdir {}", repo.display())])
                .arg(&spec));
        }
    }
    run(Command::new("createrepo_c").arg("-q").arg(&repo));
    let info = d.join("updateinfo.xml");
    std::fs::write(&info, updateinfo(alpha, beta)).unwrap();
    run(Command::new("modifyrepo_c")
        .arg(&info)
        .arg(repo.join("repodata")));
    let root = d.join("root");
    let repos = root.join("etc/yum.repos.d");
    std::fs::create_dir_all(&repos).unwrap();
    std::fs::write(
        repos.join("coc-test.repo"),
        format!(
            "[coc-test]\nname=COC test\nbaseurl=file://{}\ngpgcheck=0\nenabled=1\n",
            repo.display()
        ),
    )
    .unwrap();
    let options = vec![
        format!("--installroot={}", root.display()),
        "--releasever=1".to_string(),
        format!("--setopt=reposdir={}", repos.display()),
    ];
    run(Command::new("dnf")
        .args(&options)
        .args(["-q", "-y", "install"])
        .args([format!("{alpha}-1.0"), format!("{beta}-1.0")]));
    let installed = |p: &str| {
        run(Command::new("rpm").arg("--root").arg(&root).args([
            "-q",
            "--qf",
            "%{VERSION}-%{RELEASE}",
            p,
        ]))
    };
    assert_eq!(installed(alpha), "1.0-1");

    let mut h = Harness::start(0).await;
    h.add_agent_with(|c| {
        c.patching = coc_agent::patch::Patching {
            manager: Some("dnf".into()),
            dnf_options: options.clone(),
        }
    });
    let host = h.wait_hosts(1).await.remove(0);
    let name = h.hostname(&host).await;
    let t = h.scan_patches_locally(&host).await;
    assert_eq!(t["status"], "successful", "{t:#}");
    let scanned = h
        .client
        .get(&format!("/api/v1/patch-compliance/{name}"), &[])
        .await
        .unwrap();
    assert_eq!(scanned["report"]["manager"], "dnf", "{scanned:#}");
    let a = row(&scanned, alpha);
    assert_eq!(
        (
            &a["installed"],
            &a["available"],
            &a["classification"],
            &a["severity"]
        ),
        (
            &json!("1.0-1"),
            &json!("1.1-1"),
            &json!("security"),
            &json!("important")
        ),
        "{a}"
    );
    assert_eq!(row(&scanned, beta)["classification"], "bugfix");
    let os = scanned["report"]["os_id"].as_str().unwrap().to_string();
    h.client
        .post(
            "/api/v1/patch-baselines",
            &json!({"name": "coc-dnf", "os": os, "compliance_level": "high",
                    "rules": {"type": "custom", "patches": [{"name": alpha, "version": "1.1-1"}]}}),
        )
        .await
        .unwrap();
    let t = h
        .client
        .post(
            "/api/v1/patch-repairs",
            &json!({"hosts": [name], "baseline": "coc-dnf"}),
        )
        .await
        .unwrap();
    let t = ended(&h, t["id"].as_str().unwrap()).await;
    assert_eq!(t["status"], "successful", "{t:#}");
    assert_eq!(installed(alpha), "1.1-1");
    assert_eq!(installed(beta), "1.0-1");
    let repaired = h
        .client
        .get(&format!("/api/v1/patch-compliance/{name}"), &[])
        .await
        .unwrap();
    assert_eq!(row(&repaired, alpha)["state"], "installed", "{repaired:#}");
    assert_eq!(
        repaired["report"]["replaced"],
        json!([{"name": alpha, "version": "1.0-1"}])
    );
    let t = h
        .client
        .post("/api/v1/patch-rollbacks", &json!({"hosts": [name]}))
        .await
        .unwrap();
    let t = ended(&h, t["id"].as_str().unwrap()).await;
    assert_eq!(t["status"], "successful", "{t:#}");
    assert_eq!(installed(alpha), "1.0-1");
}
