//! Writes a Pod's status through the `pods/status` subresource, only when it changed.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, PodStatus};
use kube::Api;
use kube::api::{Patch, PatchParams};

use super::downward::pod_ip;
use super::pod_status::{PodView, pod_status};
use crate::controllers::object_time::now;
use crate::controllers::status_patch::replacing_status_patch;

const WRITE_ATTEMPTS: u32 = 4;
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(100);

pub struct StatusWriter {
    api: Api<Pod>,
    name: String,
    pod_ip: String,
    last: PodStatus,
}

impl StatusWriter {
    pub fn new(api: Api<Pod>, pod: &Pod) -> Self {
        Self {
            api,
            name: pod.metadata.name.clone().unwrap_or_default(),
            pod_ip: pod_ip(pod),
            last: pod.status.clone().unwrap_or_default(),
        }
    }

    /// Reports `view`. A Pod that no longer exists is not an error: there is nobody left to tell.
    pub async fn write(&mut self, view: &PodView) -> Result<(), kube::Error> {
        let status = pod_status(view, &self.pod_ip, Some(&self.last), now());
        if status == self.last {
            return Ok(());
        }
        let old = serde_json::to_value(&self.last).unwrap_or_default();
        let new = serde_json::to_value(&status).unwrap_or_default();
        let patch = replacing_status_patch(&old, &new);
        let mut delay = FIRST_RETRY_DELAY;
        let mut attempt = 1;
        loop {
            match self
                .api
                .patch_status(&self.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => break,
                Err(kube::Error::Api(status)) if status.code == 404 => break,
                Err(error) if attempt >= WRITE_ATTEMPTS => return Err(error),
                Err(_) => {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
            }
        }
        self.last = status;
        Ok(())
    }

    /// Reports `view`, logging a failure: a missed status write must not stop the Pod's process handling.
    pub async fn report(&mut self, view: &PodView) {
        if let Err(error) = self.write(view).await {
            tracing::debug!(pod = %self.name, %error, "pod status write failed");
        }
    }
}
