//! Identities for the code under test: policies with exactly the capabilities backup and restore need,
//! JWT auth with `backup` and `restore` roles, and scoped tokens for token-file auth.

use reqwest::Method;
use serde_json::json;

use super::api::Api;
use super::jwt::TestJwtSigner;
use super::{OpenBaoCluster, OpenBaoError};

pub const BACKUP_POLICY_NAME: &str = "openbao-backup";
/// Reading a snapshot is all a backup needs.
pub const BACKUP_POLICY: &str = r#"path "sys/storage/raft/snapshot" {
  capabilities = ["read"]
}
"#;

pub const RESTORE_POLICY_NAME: &str = "openbao-restore";
/// `update` on `snapshot` is the seal-checked restore; `snapshot-force` restores another cluster's snapshot.
pub const RESTORE_POLICY: &str = r#"path "sys/storage/raft/snapshot" {
  capabilities = ["update"]
}
path "sys/storage/raft/snapshot-force" {
  capabilities = ["update"]
}
"#;

/// JWT auth as the operator's Jobs use it: roles `backup` and `restore`, each bound to one subject and one
/// audience and carrying the matching policy.
#[derive(Debug, Clone)]
pub struct JwtAuthSetup {
    /// Auth mount path without slashes (`jwt`).
    pub mount: String,
    /// `bound_issuer`: tokens from another issuer are refused.
    pub issuer: String,
    /// `jwt_validation_pubkeys` (PEM).
    pub public_key_pem: String,
    /// `bound_audiences` of both roles.
    pub audience: String,
    /// `bound_subject` of role `backup`.
    pub backup_subject: String,
    /// `bound_subject` of role `restore`.
    pub restore_subject: String,
}

impl JwtAuthSetup {
    pub const BACKUP_ROLE: &str = "backup";
    pub const RESTORE_ROLE: &str = "restore";

    /// Defaults matching the operator: mount `jwt`, audience `openbao-internal`, subjects of the
    /// ServiceAccounts `openbao-backup` / `openbao-restore` in namespace `openbao`.
    pub fn for_signer(signer: &TestJwtSigner) -> Self {
        Self {
            mount: "jwt".to_string(),
            issuer: signer.issuer().to_string(),
            public_key_pem: signer.public_key_pem(),
            audience: "openbao-internal".to_string(),
            backup_subject: "system:serviceaccount:openbao:openbao-backup".to_string(),
            restore_subject: "system:serviceaccount:openbao:openbao-restore".to_string(),
        }
    }
}

/// Writes ACL policy `name` with `root_token` on `addr`.
pub(super) async fn write_policy_at(
    api: &Api,
    addr: &str,
    root_token: &str,
    name: &str,
    hcl: &str,
) -> Result<(), OpenBaoError> {
    let body = json!({ "policy": hcl });
    api.call_ok(
        Method::POST,
        addr,
        &format!("sys/policies/acl/{name}"),
        Some(root_token),
        Some(&body),
    )
    .await
    .map(|_| ())
}

/// The JWT set-up of [`JwtAuthSetup`] against the node at `addr` (the active one) with `root_token`: the
/// backup/restore policies, the auth mount (if missing), its key and issuer, and the two roles. Shared by every
/// kind of cluster the harness runs.
pub(super) async fn configure_jwt_auth_at(
    api: &Api,
    addr: &str,
    root_token: &str,
    setup: &JwtAuthSetup,
) -> Result<(), OpenBaoError> {
    let call = |method: Method, path: String, body: Option<serde_json::Value>| async move {
        api.call_ok(method, addr, &path, Some(root_token), body.as_ref())
            .await
    };
    write_policy_at(api, addr, root_token, BACKUP_POLICY_NAME, BACKUP_POLICY).await?;
    write_policy_at(api, addr, root_token, RESTORE_POLICY_NAME, RESTORE_POLICY).await?;
    let mount = setup.mount.trim_matches('/');
    let auths = call(Method::GET, "sys/auth".into(), None).await?.json();
    if auths["data"].get(format!("{mount}/")).is_none() {
        call(
            Method::POST,
            format!("sys/auth/{mount}"),
            Some(json!({ "type": "jwt" })),
        )
        .await?;
    }
    let config = json!({
        "jwt_validation_pubkeys": [setup.public_key_pem],
        "bound_issuer": setup.issuer,
    });
    call(Method::POST, format!("auth/{mount}/config"), Some(config)).await?;
    for (role, subject, policy) in [
        (
            JwtAuthSetup::BACKUP_ROLE,
            &setup.backup_subject,
            BACKUP_POLICY_NAME,
        ),
        (
            JwtAuthSetup::RESTORE_ROLE,
            &setup.restore_subject,
            RESTORE_POLICY_NAME,
        ),
    ] {
        let body = json!({
            "role_type": "jwt",
            "user_claim": "sub",
            "bound_subject": subject,
            "bound_audiences": [setup.audience],
            "token_policies": [policy],
            "token_ttl": "1h",
        });
        call(
            Method::POST,
            format!("auth/{mount}/role/{role}"),
            Some(body),
        )
        .await?;
    }
    Ok(())
}

impl OpenBaoCluster {
    /// Creates or replaces ACL policy `name`.
    pub async fn write_policy(&self, name: &str, hcl: &str) -> Result<(), OpenBaoError> {
        let leader = self.leader_addr().await?;
        write_policy_at(&self.api, &leader, self.root_token(), name, hcl).await
    }

    /// Enables JWT auth at `setup.mount` (if needed), trusts the setup's key and issuer, and writes the
    /// backup/restore policies and roles.
    pub async fn configure_jwt_auth(&self, setup: &JwtAuthSetup) -> Result<(), OpenBaoError> {
        let leader = self.leader_addr().await?;
        configure_jwt_auth_at(&self.api, &leader, self.root_token(), setup).await
    }

    /// Logs in at `auth/<mount>/login` like the executor does; returns the client token. A refused login
    /// is [`OpenBaoError::Api`] with the status (400 for a wrong audience or subject).
    pub async fn jwt_login(
        &self,
        mount: &str,
        role: &str,
        jwt: &str,
    ) -> Result<String, OpenBaoError> {
        let body = json!({ "role": role, "jwt": jwt });
        let leader = self.leader_addr().await?;
        let path = format!("auth/{}/login", mount.trim_matches('/'));
        let response = self
            .api
            .call_ok(Method::POST, &leader, &path, None, Some(&body))
            .await?;
        client_token(&response.json(), &path)
    }

    /// A token carrying exactly `policies` (plus `default`), valid for an hour, for token-file auth.
    pub async fn create_token(&self, policies: &[&str]) -> Result<String, OpenBaoError> {
        let body = json!({ "policies": policies, "ttl": "1h" });
        let response = self
            .call_as_root(Method::POST, "auth/token/create", Some(&body))
            .await?;
        client_token(&response.json(), "auth/token/create")
    }
}

fn client_token(body: &serde_json::Value, path: &str) -> Result<String, OpenBaoError> {
    body["auth"]["client_token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| OpenBaoError::Unexpected {
            what: path.to_string(),
            detail: "no auth.client_token in the answer".to_string(),
        })
}
