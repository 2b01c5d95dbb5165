//! Everything a container needs before its process starts: referenced objects, materialized volumes, the
//! environment, the process line, the working directory and where its log and termination message go.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Container, Pod};
use kube::Client;

use super::command::{ProcessLine, process_line};
use super::env::{EnvError, resolve_env};
use super::paths::PathRewriter;
use super::references::References;
use super::termination::MessagePolicy;
use super::volumes::{VolumeDirs, VolumeError, mount_points, plan_volumes, write_volumes};
use crate::controllers::ControllersConfig;

/// Kubernetes' default `terminationMessagePath`.
const DEFAULT_TERMINATION_MESSAGE_PATH: &str = "/dev/termination-log";

#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error(transparent)]
    Env(#[from] EnvError),
    #[error(transparent)]
    Volume(#[from] VolumeError),
    #[error("cannot read the objects the pod refers to: {0}")]
    Api(#[from] kube::Error),
    #[error("cannot prepare the pod directory: {0}")]
    Io(#[from] std::io::Error),
}

impl PrepareError {
    /// The container's waiting reason while this error lasts.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Env(error) => error.reason(),
            Self::Volume(error) => error.reason(),
            Self::Api(_) | Self::Io(_) => "ContainerCreating",
        }
    }
}

/// Where a container's files live on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerFiles {
    pub pod_dir: PathBuf,
    pub claims_dir: PathBuf,
    /// `<log_dir>/<namespace>/<pod>/<container>.log`, which the server serves as `pods/log`.
    pub log_file: PathBuf,
    pub termination_file: PathBuf,
}

impl ContainerFiles {
    pub fn of(config: &ControllersConfig, pod: &Pod, container_name: &str) -> Self {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        let uid = pod.metadata.uid.as_deref().unwrap_or_default();
        // The uid keeps a replacement Pod of the same name from inheriting its predecessor's files.
        let pod_dir = config
            .work_dir
            .join(namespace)
            .join(format!("{name}-{uid}"));
        Self {
            termination_file: pod_dir.join("termination").join(container_name),
            claims_dir: config
                .work_dir
                .join(namespace)
                .join("persistent-volume-claims"),
            log_file: config
                .log_dir
                .join(namespace)
                .join(name)
                .join(format!("{container_name}.log")),
            pod_dir,
        }
    }
}

#[derive(Debug, Clone)]
pub struct PreparedContainer {
    pub line: ProcessLine,
    pub env: BTreeMap<String, String>,
    pub working_dir: PathBuf,
    pub files: ContainerFiles,
    pub message_policy: MessagePolicy,
}

pub async fn prepare(
    client: &Client,
    config: &ControllersConfig,
    pod: &Pod,
    container: &Container,
    image_executable: &Path,
) -> Result<PreparedContainer, PrepareError> {
    let files = ContainerFiles::of(config, pod, &container.name);
    let objects = References::of(pod).fetch(client, pod).await?;
    let dirs = VolumeDirs {
        pod_dir: files.pod_dir.clone(),
        claims_dir: files.claims_dir.clone(),
    };
    let volumes = plan_volumes(pod, &objects, &dirs)?;
    write_volumes(&volumes)?;

    let mut paths = PathRewriter::default();
    for (mount_path, host_dir) in mount_points(
        container.volume_mounts.as_deref().unwrap_or_default(),
        &volumes,
    ) {
        paths.add(&mount_path, host_dir);
    }
    let termination_path = container
        .termination_message_path
        .as_deref()
        .unwrap_or(DEFAULT_TERMINATION_MESSAGE_PATH);
    paths.add(termination_path, &files.termination_file);
    if let Some(parent) = files.termination_file.parent() {
        std::fs::create_dir_all(parent)?;
    }

    let working_dir = working_dir(container, &paths, &files.pod_dir);
    std::fs::create_dir_all(&working_dir)?;
    if let Some(dir) = container
        .working_dir
        .as_deref()
        .filter(|dir| !dir.is_empty())
    {
        paths.add(dir, &working_dir);
    }

    let mut env = config.base_env.clone();
    env.insert(
        "HOSTNAME".to_string(),
        pod.metadata.name.clone().unwrap_or_default(),
    );
    env.extend(resolve_env(
        pod,
        container,
        &objects,
        &config.base_env,
        &paths,
    )?);
    let line = process_line(container, image_executable, &env, &paths);

    Ok(PreparedContainer {
        line,
        env,
        working_dir,
        files,
        message_policy: MessagePolicy::parse(container.termination_message_policy.as_deref()),
    })
}

/// The Pod's own directory, or `workingDir` mapped to the host: through a mount when one covers it, else below
/// the Pod's `rootfs` directory.
fn working_dir(container: &Container, paths: &PathRewriter, pod_dir: &Path) -> PathBuf {
    match container
        .working_dir
        .as_deref()
        .filter(|dir| !dir.is_empty())
    {
        None => pod_dir.to_path_buf(),
        Some(dir) => paths
            .host_path(dir)
            .unwrap_or_else(|| pod_dir.join("rootfs").join(dir.trim_start_matches('/'))),
    }
}
