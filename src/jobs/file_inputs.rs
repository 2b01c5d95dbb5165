//! Secrets and tokens the executor reads, as read-only volumes plus the `EXECUTOR_*_FILE`/`_DIR` variables that
//! name them. Only file paths go into the environment.

use crate::executor_vars as vars;
use k8s_openapi::api::core::v1::{
    EmptyDirVolumeSource, EnvVar, KeyToPath, ProjectedVolumeSource, SecretVolumeSource,
    ServiceAccountTokenProjection, Volume, VolumeMount, VolumeProjection,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use openbao_crds::{
    AuthMethod, AuthSpec, BackupSpec, BackupTarget, CaBundleSecretRef, OpenBaoCluster,
};

use super::JobBuildError;

/// Readable by the owner and fsGroup only.
const SECRET_FILE_MODE: i32 = 0o440;
const MOUNT_ROOT: &str = "/var/run/secrets/openbao-operator";
const JWT_VOLUME: &str = "openbao-jwt";
const TOKEN_VOLUME: &str = "openbao-token";
const OPENBAO_CA_VOLUME: &str = "openbao-ca";
const STORE_CREDENTIALS_VOLUME: &str = "store-credentials";
const STORE_CA_VOLUME: &str = "store-ca";
const SCRATCH_VOLUME: &str = "tmp";
/// `sizeLimit` of a backup Job's `/tmp`.
pub const BACKUP_SCRATCH_LIMIT: &str = "64Mi";

/// Volumes, their mounts, and the variables pointing the executor at the files.
#[derive(Debug, Default)]
pub struct FileInputs {
    pub volumes: Vec<Volume>,
    pub mounts: Vec<VolumeMount>,
    pub env: Vec<EnvVar>,
}

impl FileInputs {
    pub fn for_backup(
        cluster: &OpenBaoCluster,
        backup: &BackupSpec,
        jwt_expiration_seconds: i64,
    ) -> Result<Self, JobBuildError> {
        Self::for_executor(
            cluster,
            &backup.auth,
            &backup.target,
            jwt_expiration_seconds,
            Some(BACKUP_SCRATCH_LIMIT.to_string()),
        )
    }

    /// The files of any executor Job: its OpenBao identity, the cluster's CA, the store's credentials and CA, and
    /// a `/tmp` bounded by `scratch_limit` (a restore downloads the whole snapshot there).
    pub fn for_executor(
        cluster: &OpenBaoCluster,
        auth: &AuthSpec,
        target: &BackupTarget,
        jwt_expiration_seconds: i64,
        scratch_limit: Option<String>,
    ) -> Result<Self, JobBuildError> {
        let mut inputs = Self::default();
        match auth.method().ok_or(JobBuildError::AuthNotChosen)? {
            AuthMethod::Jwt(jwt) => {
                inputs.add(
                    JWT_VOLUME,
                    projected_token(&jwt.audience, jwt_expiration_seconds),
                );
                inputs.file_env(vars::EXECUTOR_AUTH_JWT_FILE, JWT_VOLUME, "token");
            }
            AuthMethod::Token(token) => {
                inputs.add(TOKEN_VOLUME, secret_item(&token.name, &token.key, "token"));
                inputs.file_env(vars::EXECUTOR_AUTH_TOKEN_FILE, TOKEN_VOLUME, "token");
            }
        }
        if let Some(ca) = cluster
            .spec
            .tls
            .as_ref()
            .and_then(|tls| tls.ca_secret_ref.as_ref())
        {
            inputs.add_ca(OPENBAO_CA_VOLUME, ca, vars::EXECUTOR_OPENBAO_CA_FILE);
        }
        if let Some(credentials) = &target.credentials_secret_ref {
            // The whole Secret: its keys are the file names the executor looks for (AWS_ACCESS_KEY_ID, …).
            inputs.add(
                STORE_CREDENTIALS_VOLUME,
                secret_volume(&credentials.name, None),
            );
            inputs.env.push(env(
                vars::EXECUTOR_STORE_CREDENTIALS_DIR,
                mount_path(STORE_CREDENTIALS_VOLUME),
            ));
        }
        if let Some(ca) = &target.ca_secret_ref {
            inputs.add_ca(STORE_CA_VOLUME, ca, vars::EXECUTOR_STORE_CA_FILE);
        }
        inputs.scratch(scratch_limit);
        Ok(inputs)
    }

    fn add(&mut self, name: &str, volume: Volume) {
        self.volumes.push(Volume {
            name: name.to_string(),
            ..volume
        });
        self.mounts.push(VolumeMount {
            name: name.to_string(),
            mount_path: mount_path(name),
            read_only: Some(true),
            ..VolumeMount::default()
        });
    }

    fn add_ca(&mut self, volume: &str, reference: &CaBundleSecretRef, variable: &str) {
        self.add(
            volume,
            secret_item(&reference.name, &reference.key, "ca.crt"),
        );
        self.file_env(variable, volume, "ca.crt");
    }

    fn file_env(&mut self, variable: &str, volume: &str, file: &str) {
        self.env
            .push(env(variable, format!("{}/{file}", mount_path(volume))));
    }

    /// The root filesystem is read-only; `/tmp` is the executor's only writable place. A backup streams and writes
    /// nothing there, so its `/tmp` is bounded: an executor image that fills it is evicted, not the node's disk.
    fn scratch(&mut self, limit: Option<String>) {
        self.volumes.push(Volume {
            name: SCRATCH_VOLUME.to_string(),
            empty_dir: Some(EmptyDirVolumeSource {
                size_limit: limit.map(Quantity),
                medium: None,
            }),
            ..Volume::default()
        });
        self.mounts.push(VolumeMount {
            name: SCRATCH_VOLUME.to_string(),
            mount_path: "/tmp".to_string(),
            ..VolumeMount::default()
        });
    }
}

fn mount_path(volume: &str) -> String {
    format!("{MOUNT_ROOT}/{volume}")
}

pub fn env(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: Some(value.into()),
        value_from: None,
    }
}

fn secret_volume(secret: &str, items: Option<Vec<KeyToPath>>) -> Volume {
    Volume {
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret.to_string()),
            items,
            default_mode: Some(SECRET_FILE_MODE),
            optional: Some(false),
        }),
        ..Volume::default()
    }
}

/// One key of a Secret under a fixed file name, so the executor's path does not depend on the key's name.
fn secret_item(secret: &str, key: &str, file: &str) -> Volume {
    secret_volume(
        secret,
        Some(vec![KeyToPath {
            key: key.to_string(),
            path: file.to_string(),
            mode: None,
        }]),
    )
}

/// A ServiceAccount token bound to this Pod, with the audience OpenBao's JWT role expects.
fn projected_token(audience: &str, expiration_seconds: i64) -> Volume {
    Volume {
        projected: Some(ProjectedVolumeSource {
            default_mode: Some(SECRET_FILE_MODE),
            sources: Some(vec![VolumeProjection {
                service_account_token: Some(ServiceAccountTokenProjection {
                    audience: Some(audience.to_string()),
                    expiration_seconds: Some(expiration_seconds),
                    path: "token".to_string(),
                }),
                ..VolumeProjection::default()
            }]),
        }),
        ..Volume::default()
    }
}
