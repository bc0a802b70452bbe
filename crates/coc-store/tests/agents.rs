//! Agent identity: admission, token uses, revoke, re-enroll, delete — on
//! both backends.

use coc_domain::agent::{IdentityAction, Refusal};
use coc_store::agent::AgentAdmission;
use coc_store::resource::HostFacts;

use crate::each_store;

fn facts(agent_id: &str, hostname: &str) -> HostFacts {
    HostFacts {
        agent_id: agent_id.into(),
        hostname: hostname.into(),
        ips: vec!["10.0.0.1".into()],
        os: "Linux".into(),
        arch: "x86_64".into(),
        cpu_cores: 2,
        memory_bytes: 1 << 30,
        agent_version: "t".into(),
        boot_id: "b1".into(),
        proxy: None,
        proxy_listen: None,
        agent_sha256: String::new(),
    }
}

fn host_of(a: AgentAdmission) -> String {
    match a {
        AgentAdmission::Admitted(a) => a.host_id,
        other => panic!("refused: {other:?}"),
    }
}

fn why(a: AgentAdmission) -> Refusal {
    match a {
        AgentAdmission::Refused { why, .. } => why,
        other => panic!("admitted: {other:?}"),
    }
}

#[tokio::test]
async fn agents_enroll_once_then_prove_their_key() {
    each_store!(|s| {
        let now = 1_800_000_000_000;
        let (e, secret) = s.create_enrollment("t1", "rack", 2, 1, now).await.unwrap();
        assert_eq!((e.max_uses, e.uses, e.state.as_str()), (2, 0, "active"));
        assert_eq!(e.expires_at, now + 3_600_000);
        let web = host_of(
            s.admit_agent(&facts("a1", "web-1"), "key-1", Some(&secret), now)
                .await
                .unwrap(),
        );
        // The key alone, later; facts refresh.
        let again = s
            .admit_agent(&facts("a1", "web-1b"), "key-1", None, now + 1)
            .await
            .unwrap();
        assert_eq!(host_of(again), web);
        let h = s.get_host("t1", &web, 5000).await.unwrap();
        assert_eq!(h.facts.hostname, "web-1b");
        assert_eq!(h.agent_identity.as_str(), "active");
        // Another key with the token claims the same agent id: refused,
        // with the host named for the audit trail.
        match s
            .admit_agent(&facts("a1", "evil"), "key-evil", Some(&secret), now)
            .await
            .unwrap()
        {
            AgentAdmission::Refused {
                why,
                tenant,
                host_id,
            } => {
                assert_eq!(why, Refusal::HostClaimed);
                assert_eq!(tenant.as_deref(), Some("t1"));
                assert_eq!(host_id.as_deref(), Some(web.as_str()));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            s.get_host("t1", &web, 5000).await.unwrap().facts.hostname,
            "web-1b"
        );
        // Uses run out; expiry.
        host_of(
            s.admit_agent(&facts("a2", "web-2"), "key-2", Some(&secret), now)
                .await
                .unwrap(),
        );
        assert_eq!(
            why(s
                .admit_agent(&facts("a3", "web-3"), "key-3", Some(&secret), now)
                .await
                .unwrap()),
            Refusal::TokenUsedUp
        );
        let (_, late) = s.create_enrollment("t1", "late", 5, 1, now).await.unwrap();
        assert_eq!(
            why(s
                .admit_agent(&facts("a3", "web-3"), "key-3", Some(&late), now + 3_600_000)
                .await
                .unwrap()),
            Refusal::TokenExpired
        );
        let listed = s.list_enrollments("t1", now).await.unwrap();
        assert_eq!(listed[0].state, "used_up");
        assert_eq!(listed[0].uses, 2);

        // Revoke, then re-enroll with a new key on the same host.
        s.set_agent_identity("t1", &web, IdentityAction::Revoke, now)
            .await
            .unwrap();
        assert_eq!(
            why(s
                .admit_agent(&facts("a1", "web-1"), "key-1", None, now)
                .await
                .unwrap()),
            Refusal::Revoked
        );
        s.set_agent_identity("t1", &web, IdentityAction::Reenroll, now)
            .await
            .unwrap();
        assert_eq!(
            why(s
                .admit_agent(&facts("a1", "web-1"), "key-1", None, now)
                .await
                .unwrap()),
            Refusal::NotEnrolled
        );
        let rebound = s
            .admit_agent(&facts("a1", "web-1"), "key-1-new", Some(&late), now + 10)
            .await
            .unwrap();
        assert_eq!(host_of(rebound), web);
        assert!(s.host_by_agent_key("key-1").await.unwrap().is_none());
        assert_eq!(
            s.host_by_agent_key("key-1-new").await.unwrap(),
            Some((web.clone(), "t1".to_string()))
        );

        // Delete: the key is gone with the host.
        s.delete_host("t1", &web).await.unwrap();
        assert!(s.host_by_agent_key("key-1-new").await.unwrap().is_none());
        assert!(s.delete_host("t1", &web).await.is_err());
        // Revoked tokens enroll nothing.
        let (e2, rev) = s.create_enrollment("t1", "rev", 5, 1, now).await.unwrap();
        s.revoke_enrollment("t1", &e2.id, now).await.unwrap();
        assert_eq!(
            why(s
                .admit_agent(&facts("a9", "x"), "key-9", Some(&rev), now)
                .await
                .unwrap()),
            Refusal::TokenRevoked
        );
    });
}
