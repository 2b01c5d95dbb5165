//! Pod volumes materialized as host directories: which files each volume holds (a pure plan) and writing them.
//!
//! Files are written once when the container is prepared; projected tokens are not refreshed (tests run for
//! minutes, tokens live for an hour by default).

use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use k8s_openapi::api::core::v1::{DownwardAPIVolumeFile, KeyToPath, Pod, Volume};

use super::downward::{UnsupportedField, pod_field};
use super::references::{DEFAULT_TOKEN_EXPIRATION_SECONDS, KeyValues, ReferencedObjects, TokenKey};

/// Kubernetes' default file mode for secret, configMap, downwardAPI and projected volumes.
const DEFAULT_MODE: u32 = 0o644;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VolumeError {
    #[error("MountVolume.SetUp failed for volume {volume:?} : secret {name:?} not found")]
    SecretNotFound { volume: String, name: String },
    #[error("MountVolume.SetUp failed for volume {volume:?} : configmap {name:?} not found")]
    ConfigMapNotFound { volume: String, name: String },
    #[error("MountVolume.SetUp failed for volume {volume:?} : {kind} {name:?} has no key {key:?}")]
    KeyNotFound {
        volume: String,
        kind: &'static str,
        name: String,
        key: String,
    },
    #[error(
        "MountVolume.SetUp failed for volume {volume:?} : no token was issued for the serviceAccountToken source"
    )]
    TokenMissing { volume: String },
    #[error("MountVolume.SetUp failed for volume {volume:?} : {source}")]
    Field {
        volume: String,
        source: UnsupportedField,
    },
    #[error(
        "MountVolume.SetUp failed for volume {volume:?} : item path {path:?} must be relative without '..'"
    )]
    UnsafePath { volume: String, path: String },
    #[error("volume {volume:?}: this volume type is not supported by the simulator")]
    Unsupported { volume: String },
    #[error("cannot write volume {volume:?}: {message}")]
    Write { volume: String, message: String },
}

impl VolumeError {
    /// The container's waiting reason while a volume cannot be set up.
    pub fn reason(&self) -> &'static str {
        "ContainerCreating"
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    /// Relative to the volume's directory.
    pub path: PathBuf,
    pub contents: Vec<u8>,
    pub mode: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedVolume {
    pub name: String,
    pub host_dir: PathBuf,
    pub files: Vec<PlannedFile>,
}

/// Where volumes live on the host: per-Pod volumes below `pod_dir`, claims (which outlive Pods) below `claims_dir`.
#[derive(Debug, Clone)]
pub struct VolumeDirs {
    pub pod_dir: PathBuf,
    pub claims_dir: PathBuf,
}

impl VolumeDirs {
    pub fn volume_dir(&self, volume: &Volume) -> PathBuf {
        match &volume.persistent_volume_claim {
            Some(claim) => self.claims_dir.join(&claim.claim_name),
            None => self.pod_dir.join("volumes").join(&volume.name),
        }
    }
}

pub fn plan_volumes(
    pod: &Pod,
    objects: &ReferencedObjects,
    dirs: &VolumeDirs,
) -> Result<Vec<PlannedVolume>, VolumeError> {
    let volumes = pod.spec.as_ref().and_then(|spec| spec.volumes.as_ref());
    volumes
        .into_iter()
        .flatten()
        .map(|volume| {
            Ok(PlannedVolume {
                name: volume.name.clone(),
                host_dir: dirs.volume_dir(volume),
                files: volume_files(pod, volume, objects)?,
            })
        })
        .collect()
}

fn volume_files(
    pod: &Pod,
    volume: &Volume,
    objects: &ReferencedObjects,
) -> Result<Vec<PlannedFile>, VolumeError> {
    let name = volume.name.as_str();
    if volume.empty_dir.is_some() || volume.persistent_volume_claim.is_some() {
        return Ok(Vec::new());
    }
    if let Some(secret) = &volume.secret {
        let secret_name = secret.secret_name.clone().unwrap_or_default();
        let mode = mode_or_default(secret.default_mode);
        return key_files(
            name,
            "secret",
            &secret_name,
            objects.secrets.get(&secret_name),
            secret.items.as_deref(),
            secret.optional,
            mode,
        );
    }
    if let Some(config_map) = &volume.config_map {
        let data = objects.config_maps.get(&config_map.name);
        let mode = mode_or_default(config_map.default_mode);
        return key_files(
            name,
            "configmap",
            &config_map.name,
            data,
            config_map.items.as_deref(),
            config_map.optional,
            mode,
        );
    }
    if let Some(downward) = &volume.downward_api {
        return downward_files(
            pod,
            name,
            downward.items.as_deref(),
            mode_or_default(downward.default_mode),
        );
    }
    if let Some(projected) = &volume.projected {
        let mode = mode_or_default(projected.default_mode);
        let mut files = Vec::new();
        for source in projected.sources.iter().flatten() {
            if let Some(secret) = &source.secret {
                let data = objects.secrets.get(&secret.name);
                files.extend(key_files(
                    name,
                    "secret",
                    &secret.name,
                    data,
                    secret.items.as_deref(),
                    secret.optional,
                    mode,
                )?);
            }
            if let Some(config_map) = &source.config_map {
                let data = objects.config_maps.get(&config_map.name);
                let items = config_map.items.as_deref();
                files.extend(key_files(
                    name,
                    "configmap",
                    &config_map.name,
                    data,
                    items,
                    config_map.optional,
                    mode,
                )?);
            }
            if let Some(downward) = &source.downward_api {
                files.extend(downward_files(pod, name, downward.items.as_deref(), mode)?);
            }
            if let Some(token) = &source.service_account_token {
                let key = TokenKey {
                    audience: token
                        .audience
                        .clone()
                        .filter(|audience| !audience.is_empty()),
                    expiration_seconds: token
                        .expiration_seconds
                        .unwrap_or(DEFAULT_TOKEN_EXPIRATION_SECONDS),
                };
                let token_value =
                    objects
                        .tokens
                        .get(&key)
                        .ok_or_else(|| VolumeError::TokenMissing {
                            volume: name.to_string(),
                        })?;
                files.push(PlannedFile {
                    path: safe_relative(name, &token.path)?,
                    contents: token_value.clone().into_bytes(),
                    mode,
                });
            }
            if source.cluster_trust_bundle.is_some() {
                return Err(VolumeError::Unsupported {
                    volume: name.to_string(),
                });
            }
        }
        return Ok(files);
    }
    Err(VolumeError::Unsupported {
        volume: name.to_string(),
    })
}

fn mode_or_default(mode: Option<i32>) -> u32 {
    mode.and_then(|mode| u32::try_from(mode).ok())
        .unwrap_or(DEFAULT_MODE)
}

/// Files for a secret or configMap source: every key, or only `items` (key → path, optional per-item mode).
fn key_files(
    volume: &str,
    kind: &'static str,
    object_name: &str,
    data: Option<&KeyValues>,
    items: Option<&[KeyToPath]>,
    optional: Option<bool>,
    mode: u32,
) -> Result<Vec<PlannedFile>, VolumeError> {
    let optional = optional == Some(true);
    let Some(data) = data else {
        return match (optional, kind) {
            (true, _) => Ok(Vec::new()),
            (false, "secret") => Err(VolumeError::SecretNotFound {
                volume: volume.to_string(),
                name: object_name.to_string(),
            }),
            (false, _) => Err(VolumeError::ConfigMapNotFound {
                volume: volume.to_string(),
                name: object_name.to_string(),
            }),
        };
    };
    let Some(items) = items.filter(|items| !items.is_empty()) else {
        return data
            .iter()
            .map(|(key, contents)| {
                Ok(PlannedFile {
                    path: safe_relative(volume, key)?,
                    contents: contents.clone(),
                    mode,
                })
            })
            .collect();
    };
    let mut files = Vec::new();
    for item in items {
        match data.get(&item.key) {
            Some(contents) => files.push(PlannedFile {
                path: safe_relative(volume, &item.path)?,
                contents: contents.clone(),
                mode: item
                    .mode
                    .map(|mode| mode_or_default(Some(mode)))
                    .unwrap_or(mode),
            }),
            None if optional => {}
            None => {
                return Err(VolumeError::KeyNotFound {
                    volume: volume.to_string(),
                    kind,
                    name: object_name.to_string(),
                    key: item.key.clone(),
                });
            }
        }
    }
    Ok(files)
}

fn downward_files(
    pod: &Pod,
    volume: &str,
    items: Option<&[DownwardAPIVolumeFile]>,
    mode: u32,
) -> Result<Vec<PlannedFile>, VolumeError> {
    let mut files = Vec::new();
    for item in items.into_iter().flatten() {
        let Some(field) = &item.field_ref else {
            return Err(VolumeError::Unsupported {
                volume: volume.to_string(),
            });
        };
        let value = pod_field(pod, &field.field_path).map_err(|source| VolumeError::Field {
            volume: volume.to_string(),
            source,
        })?;
        files.push(PlannedFile {
            path: safe_relative(volume, &item.path)?,
            contents: value.into_bytes(),
            mode: item
                .mode
                .map(|mode| mode_or_default(Some(mode)))
                .unwrap_or(mode),
        });
    }
    Ok(files)
}

fn safe_relative(volume: &str, path: &str) -> Result<PathBuf, VolumeError> {
    let relative = Path::new(path);
    let safe = !path.is_empty()
        && relative
            .components()
            .all(|component| matches!(component, Component::Normal(_)));
    if safe {
        Ok(relative.to_path_buf())
    } else {
        Err(VolumeError::UnsafePath {
            volume: volume.to_string(),
            path: path.to_string(),
        })
    }
}

/// Creates each volume's directory and writes its files with their modes.
pub fn write_volumes(volumes: &[PlannedVolume]) -> Result<(), VolumeError> {
    for volume in volumes {
        write_volume(volume).map_err(|error| VolumeError::Write {
            volume: volume.name.clone(),
            message: error.to_string(),
        })?;
    }
    Ok(())
}

fn write_volume(volume: &PlannedVolume) -> io::Result<()> {
    std::fs::create_dir_all(&volume.host_dir)?;
    for file in &volume.files {
        let path = volume.host_dir.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, &file.contents)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(file.mode))?;
    }
    Ok(())
}

/// Container mount path → host directory, for every `volumeMount` of the container.
pub fn mount_points(
    mounts: &[k8s_openapi::api::core::v1::VolumeMount],
    volumes: &[PlannedVolume],
) -> BTreeMap<String, PathBuf> {
    mounts
        .iter()
        .filter_map(|mount| {
            let volume = volumes.iter().find(|volume| volume.name == mount.name)?;
            let host = match mount
                .sub_path
                .as_deref()
                .filter(|sub_path| !sub_path.is_empty())
            {
                Some(sub_path) => volume.host_dir.join(sub_path),
                None => volume.host_dir.clone(),
            };
            Some((mount.mount_path.clone(), host))
        })
        .collect()
}

#[cfg(test)]
#[path = "volumes_tests.rs"]
mod tests;
