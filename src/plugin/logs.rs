//! `kubectl openbao logs CLUSTER [--last-backup | --restore NAME]`: the executor's log, read through `pods/log`
//! from the newest Pod of the Job (the newest backup Job of the cluster, or the restore's `status.jobName`).

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{ListParams, LogParams};

use super::cli::LogsArgs;
use super::connect::Context;
use super::error::PluginError;
use super::lookup;

pub async fn run(context: &Context, args: LogsArgs) -> Result<(), PluginError> {
    let namespace = context.namespace()?.to_string();
    lookup::cluster(context, &args.cluster).await?;
    let job = match &args.restore {
        Some(name) => {
            let request = lookup::restore(context, name).await?;
            if request.spec.cluster != args.cluster {
                return Err(PluginError::Usage(format!(
                    "OpenBaoRestore {name} belongs to cluster {}, not {}",
                    request.spec.cluster, args.cluster
                )));
            }
            request
                .status
                .and_then(|s| s.job_name)
                .ok_or_else(|| {
                    PluginError::Failed(format!(
                        "OpenBaoRestore {name} has no restore Job yet (status.jobName is empty)"
                    ))
                })?
        }
        None => newest(lookup::jobs_of(context, &args.cluster, "backup").await?).ok_or_else(|| {
            PluginError::Failed(format!(
                "no backup Job of {namespace}/{} exists (finished Jobs are removed after their TTL)",
                args.cluster
            ))
        })?,
    };
    let pods: Api<Pod> = Api::namespaced(context.client.clone(), &namespace);
    let list = pods
        .list(&ListParams::default().labels(&format!("job-name={job}")))
        .await
        .map_err(|error| context.error(error, &format!("listing the Pods of Job {job}")))?;
    let pod = list
        .items
        .into_iter()
        .max_by_key(|pod| pod.metadata.creation_timestamp.clone().map(|t| t.0))
        .ok_or_else(|| PluginError::Failed(format!("Job {job} has no Pod (yet)")))?;
    let pod_name = pod.metadata.name.clone().unwrap_or_default();
    let container = pod
        .spec
        .as_ref()
        .and_then(|spec| spec.containers.first())
        .map(|c| c.name.clone());
    let params = LogParams {
        container,
        ..LogParams::default()
    };
    let text = pods
        .logs(&pod_name, &params)
        .await
        .map_err(|error| context.error(error, &format!("reading the log of Pod {pod_name}")))?;
    eprintln!("==> Job {job}, Pod {pod_name}");
    print!("{text}");
    if !text.is_empty() && !text.ends_with('\n') {
        println!();
    }
    Ok(())
}

/// The newest Job by creation time, then name.
fn newest(jobs: Vec<Job>) -> Option<String> {
    jobs.into_iter()
        .filter_map(|job| {
            let created = job.metadata.creation_timestamp.clone().map(|t| t.0);
            Some((created, job.metadata.name?))
        })
        .max()
        .map(|(_, name)| name)
}
