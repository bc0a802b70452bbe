//! Applications (R6) on both backends: created with an owner who is a
//! person of the tenant, found by id or name, renamed, unique by name,
//! deleted.

use coc_domain::DEFAULT_TENANT as T;
use coc_domain::application::{AppModule, ApplicationSpec};
use coc_store::StoreError;

use crate::each_store;

fn spec(name: &str, owner: Option<&str>) -> ApplicationSpec {
    ApplicationSpec {
        name: name.into(),
        description: Some("card payments\r\n".into()),
        owner: owner.map(String::from),
        enterprise_project: None,
        modules: vec![AppModule {
            name: "web".into(),
            description: None,
        }],
        regions: vec!["eu-west-1".into()],
    }
}

#[tokio::test]
async fn applications_are_kept_by_name_with_an_owner_who_is_a_person() {
    each_store!(|s| {
        s.create_user(T, "ann", "Ann", None).await.unwrap();
        let a = s
            .create_application(T, &spec(" payments ", Some("ann")))
            .await
            .unwrap();
        assert_eq!(a.spec.name, "payments");
        assert_eq!(a.spec.description.as_deref(), Some("card payments"));
        assert_eq!(s.get_application(T, "payments").await.unwrap().id, a.id);
        assert!(matches!(
            s.create_application(T, &spec("payments", None)).await,
            Err(StoreError::Conflict(m)) if m.contains("'payments' already exists")
        ));
        let e = s
            .create_application(T, &spec("billing", Some("nobody")))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("owner 'nobody' is no user"), "{e}");
        let mut in_project = spec("billing", None);
        in_project.enterprise_project = Some("finance".into());
        let e = s.create_application(T, &in_project).await.unwrap_err();
        assert!(e.to_string().contains("'finance' does not exist"), "{e}");
        s.create_application(T, &spec("billing", None))
            .await
            .unwrap();
        // Renaming onto a taken name is refused and changes nothing.
        assert!(matches!(
            s.update_application(T, &a.id, &spec("billing", None)).await,
            Err(StoreError::Conflict(_))
        ));
        let mut changed = spec("payments-v2", Some("ann"));
        changed.regions.push("cn-north-4".into());
        let b = s.update_application(T, &a.id, &changed).await.unwrap();
        assert_eq!(b.spec.regions, vec!["eu-west-1", "cn-north-4"]);
        assert!(b.updated_at >= a.updated_at);
        let names: Vec<String> = s
            .list_applications(T)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.spec.name)
            .collect();
        assert_eq!(names, vec!["billing", "payments-v2"]);
        s.delete_application(T, &a.id).await.unwrap();
        assert!(matches!(
            s.get_application(T, &a.id).await,
            Err(StoreError::NotFound { .. })
        ));
    });
}
