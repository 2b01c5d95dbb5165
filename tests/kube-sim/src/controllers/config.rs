//! What the controllers need to know about the host: which local executable stands for which image, where Pods
//! live on disk, and how a test takes part in a StatefulSet Pod's life.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;

/// Pod annotation a test sets to `"true"` or `"false"` to decide a simulated (not process-backed) Pod's readiness.
/// It overrides the `on_pod_replaced` hook's verdict in both directions, at any time.
pub const READY_ANNOTATION: &str = "kube-sim.openbao.org/ready";

/// Settings for [`spawn`](super::spawn).
#[derive(Clone)]
pub struct ControllersConfig {
    /// Image name (or prefix) → local executable that plays the image's entrypoint.
    pub images: ImageMap,
    /// Per-Pod directories (materialized volumes, termination-message files, working directories) go below here.
    pub work_dir: PathBuf,
    /// The kubelet writes `<log_dir>/<namespace>/<pod>/<container>.log`; the server serves `pods/log` from there.
    pub log_dir: PathBuf,
    /// Callbacks that let a test act for StatefulSet Pods, which are not run as processes by default.
    pub pod_hooks: PodHooks,
    /// Run StatefulSet Pods as processes too (like Job Pods) instead of simulating them.
    pub run_statefulset_pods: bool,
    /// Environment every container process starts with before the Pod's own `env`/`envFrom`: the host environment
    /// is never inherited, as a container does not inherit its node's. Defaults to the host's `PATH` only.
    pub base_env: BTreeMap<String, String>,
}

impl ControllersConfig {
    pub fn new(work_dir: impl Into<PathBuf>, log_dir: impl Into<PathBuf>) -> Self {
        let base_env = std::env::var("PATH")
            .map(|path| BTreeMap::from([("PATH".to_string(), path)]))
            .unwrap_or_default();
        Self {
            images: ImageMap::default(),
            work_dir: work_dir.into(),
            log_dir: log_dir.into(),
            pod_hooks: PodHooks::default(),
            run_statefulset_pods: false,
            base_env,
        }
    }

    /// Maps an image name, or a prefix of it (e.g. `quay.io/openbao/openbao`), to a local executable.
    pub fn image(
        mut self,
        image_or_prefix: impl Into<String>,
        executable: impl Into<PathBuf>,
    ) -> Self {
        self.images.insert(image_or_prefix, executable);
        self
    }

    pub fn base_env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.base_env.insert(name.into(), value.into());
        self
    }

    pub fn run_statefulset_pods(mut self, run: bool) -> Self {
        self.run_statefulset_pods = run;
        self
    }

    /// See [`PodHooks::on_pod_replaced`].
    pub fn on_pod_replaced<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(PodReplaced) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.pod_hooks.on_pod_replaced = Some(Arc::new(move |event| Box::pin(hook(event))));
        self
    }
}

impl fmt::Debug for ControllersConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ControllersConfig")
            .field("images", &self.images)
            .field("work_dir", &self.work_dir)
            .field("log_dir", &self.log_dir)
            .field("pod_hooks", &self.pod_hooks)
            .field("run_statefulset_pods", &self.run_statefulset_pods)
            .field("base_env", &self.base_env.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Image → local executable. A key matches an image exactly or as a prefix ending at a name boundary (`:`, `@`,
/// `/`); the longest matching key wins, so `quay.io/openbao/openbao` covers every tag (but not
/// `quay.io/openbao/openbao-ui`) while a full `name:tag` key can still override one tag.
#[derive(Clone, Debug, Default)]
pub struct ImageMap {
    executables: BTreeMap<String, PathBuf>,
}

impl ImageMap {
    pub fn insert(&mut self, image_or_prefix: impl Into<String>, executable: impl Into<PathBuf>) {
        self.executables
            .insert(image_or_prefix.into(), executable.into());
    }

    pub fn resolve(&self, image: &str) -> Option<&Path> {
        self.executables
            .iter()
            .filter(|(key, _)| covers(key, image))
            .max_by_key(|(key, _)| key.len())
            .map(|(_, executable)| executable.as_path())
    }
}

fn covers(key: &str, image: &str) -> bool {
    let Some(rest) = image.strip_prefix(key) else {
        return false;
    };
    rest.is_empty() || key.ends_with(['/', ':', '@']) || rest.starts_with([':', '@', '/'])
}

/// A StatefulSet Pod the kubelet just started (first creation or a replacement after deletion or rollout).
#[derive(Clone, Debug)]
pub struct PodReplaced {
    pub namespace: String,
    pub statefulset: String,
    pub ordinal: u32,
    /// The revision (`controller-revision-hash` label) the new Pod was built from.
    pub revision: String,
    pub pod: Pod,
}

/// Resolves when the workload behind a simulated Pod is healthy; the kubelet then reports the Pod Ready.
pub type PodReadyFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

pub type PodReplacedHook = Arc<dyn Fn(PodReplaced) -> PodReadyFuture + Send + Sync>;

#[derive(Clone, Default)]
pub struct PodHooks {
    /// Called whenever the kubelet starts a simulated StatefulSet Pod, so a test can (re)start the real process that
    /// stands for it. The Pod turns Ready when the returned future resolves (unless [`READY_ANNOTATION`] says
    /// otherwise). Without a hook, simulated Pods are Ready as soon as they run.
    pub on_pod_replaced: Option<PodReplacedHook>,
}

impl fmt::Debug for PodHooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PodHooks")
            .field("on_pod_replaced", &self.on_pod_replaced.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_matching_image_key_wins() {
        let mut images = ImageMap::default();
        images.insert("quay.io/openbao/openbao", "/bin/bao");
        images.insert("quay.io/openbao/openbao:2.7.2", "/bin/bao-2.7.2");
        images.insert("ghcr.io/example/operator", "/bin/operator");

        assert_eq!(
            images.resolve("quay.io/openbao/openbao:2.7.2"),
            Some(Path::new("/bin/bao-2.7.2"))
        );
        assert_eq!(
            images.resolve("quay.io/openbao/openbao:2.6.0"),
            Some(Path::new("/bin/bao"))
        );
        assert_eq!(
            images.resolve("ghcr.io/example/operator@sha256:abc"),
            Some(Path::new("/bin/operator"))
        );
        assert_eq!(images.resolve("docker.io/library/busybox"), None);
        assert_eq!(
            images.resolve("quay.io/openbao/openbao-ui:1"),
            None,
            "prefixes end at a name boundary"
        );
    }
}
