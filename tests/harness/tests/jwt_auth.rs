//! JWT auth as the executor uses it, with tokens from a per-test signing key, and scoped tokens.

use std::time::Duration;

use openbao_test_harness::{JwtAuthSetup, OpenBaoCluster, OpenBaoOptions, TestJwtSigner};
use reqwest::{Method, StatusCode};

const TTL: Duration = Duration::from_secs(600);

#[tokio::test]
async fn backup_role_logs_in_with_a_minted_token_and_may_only_read_snapshots() {
    let cluster = OpenBaoCluster::start(1, OpenBaoOptions::default())
        .await
        .unwrap();
    let signer = TestJwtSigner::default();
    let setup = JwtAuthSetup::for_signer(&signer);
    cluster.configure_jwt_auth(&setup).await.unwrap();

    let jwt = signer.mint(&setup.backup_subject, &setup.audience, TTL);
    let token = cluster
        .jwt_login(&setup.mount, JwtAuthSetup::BACKUP_ROLE, &jwt)
        .await
        .expect("backup login");

    let snapshot = cluster
        .call(Method::GET, "sys/storage/raft/snapshot", Some(&token), None)
        .await
        .unwrap();
    assert_eq!(snapshot.status, StatusCode::OK);
    assert_eq!(&snapshot.body[..2], &[0x1f, 0x8b]);
    let restore = cluster
        .call(
            Method::POST,
            "sys/storage/raft/snapshot",
            Some(&token),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        restore.status,
        StatusCode::FORBIDDEN,
        "backup must not restore"
    );
    let secrets = cluster
        .call(Method::GET, "secret/data/anything", Some(&token), None)
        .await
        .unwrap();
    assert_eq!(
        secrets.status,
        StatusCode::FORBIDDEN,
        "backup must not read secrets"
    );

    let restore_jwt = signer.mint(&setup.restore_subject, &setup.audience, TTL);
    let restore_token = cluster
        .jwt_login(&setup.mount, JwtAuthSetup::RESTORE_ROLE, &restore_jwt)
        .await
        .unwrap();
    let read = cluster
        .call(
            Method::GET,
            "sys/storage/raft/snapshot",
            Some(&restore_token),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        read.status,
        StatusCode::FORBIDDEN,
        "restore must not download snapshots"
    );
}

#[tokio::test]
async fn login_fails_for_wrong_audience_subject_key_or_expiry() {
    let cluster = OpenBaoCluster::start(1, OpenBaoOptions::default())
        .await
        .unwrap();
    let signer = TestJwtSigner::default();
    let setup = JwtAuthSetup::for_signer(&signer);
    cluster.configure_jwt_auth(&setup).await.unwrap();
    let login = |jwt: String, role: &'static str| {
        let cluster = &cluster;
        let mount = setup.mount.clone();
        async move { cluster.jwt_login(&mount, role, &jwt).await }
    };

    let wrong_audience = signer.mint(&setup.backup_subject, "someone-else", TTL);
    let err = login(wrong_audience, JwtAuthSetup::BACKUP_ROLE)
        .await
        .expect_err("wrong audience");
    assert_eq!(err.status(), Some(400), "{err}");

    let restore_subject = signer.mint(&setup.restore_subject, &setup.audience, TTL);
    let err = login(restore_subject, JwtAuthSetup::BACKUP_ROLE)
        .await
        .expect_err("subject bound to the other role");
    assert_eq!(err.status(), Some(400), "{err}");

    let foreign_key =
        TestJwtSigner::new(signer.issuer()).mint(&setup.backup_subject, &setup.audience, TTL);
    let err = login(foreign_key, JwtAuthSetup::BACKUP_ROLE)
        .await
        .expect_err("untrusted key");
    assert_eq!(err.status(), Some(400), "{err}");

    // Past the default 150 s expiration leeway.
    let now = chrono::Utc::now().timestamp();
    let expired = signer.sign(&serde_json::json!({
        "iss": signer.issuer(), "sub": setup.backup_subject, "aud": [setup.audience],
        "iat": now - 3600, "nbf": now - 3600, "exp": now - 1800,
    }));
    let err = login(expired, JwtAuthSetup::BACKUP_ROLE)
        .await
        .expect_err("expired");
    assert_eq!(err.status(), Some(400), "{err}");
}

#[tokio::test]
async fn created_token_carries_exactly_the_given_policies() {
    let cluster = OpenBaoCluster::start(1, OpenBaoOptions::default())
        .await
        .unwrap();
    cluster
        .write_policy(
            openbao_test_harness::BACKUP_POLICY_NAME,
            openbao_test_harness::BACKUP_POLICY,
        )
        .await
        .unwrap();
    let token = cluster
        .create_token(&[openbao_test_harness::BACKUP_POLICY_NAME])
        .await
        .unwrap();
    assert_ne!(token, cluster.root_token());

    let lookup = cluster
        .call(Method::GET, "auth/token/lookup-self", Some(&token), None)
        .await
        .unwrap();
    assert_eq!(lookup.status, StatusCode::OK);
    let policies = lookup.json()["data"]["policies"].clone();
    assert_eq!(policies, serde_json::json!(["default", "openbao-backup"]));
    let snapshot = cluster
        .call(Method::GET, "sys/storage/raft/snapshot", Some(&token), None)
        .await
        .unwrap();
    assert_eq!(snapshot.status, StatusCode::OK);
}
