//! `kubectl openbao restore CLUSTER (--latest | --key KEY)`: create an OpenBaoRestore (after a confirmation on a
//! terminal) and, with `--wait`, follow its phases to the end.

use std::io::{BufRead, IsTerminal, Write};

use kube::api::PostParams;
use kube::{Api, ResourceExt};
use openbao_crds::{OpenBaoRestore, OpenBaoRestoreStatus, RestorePhase};
use serde_json::json;

use super::cli::RestoreArgs;
use super::connect::Context;
use super::display::size;
use super::error::PluginError;
use super::follow::{Step, follow};
use super::lookup;
use super::summary::phase_of;

pub async fn run(context: &Context, args: RestoreArgs) -> Result<(), PluginError> {
    let namespace = context.namespace()?.to_string();
    lookup::cluster(context, &args.cluster).await?;
    let source = match &args.key {
        Some(key) => format!("key {key}"),
        None => "the latest recovery point".to_string(),
    };
    if !args.dry_run && !args.yes {
        confirm(&namespace, &args.cluster, &source)?;
    }
    let request = request(&namespace, &args)?;
    let api: Api<OpenBaoRestore> = Api::namespaced(context.client.clone(), &namespace);
    let created = api
        .create(&PostParams::default(), &request)
        .await
        .map_err(|error| context.error(error, "creating the OpenBaoRestore"))?;
    let name = created.name_any();
    let kind = if args.dry_run { " (dry run)" } else { "" };
    println!(
        "openbaorestore/{name} created{kind}: restore {source} into {namespace}/{}",
        args.cluster
    );
    if !args.wait {
        return Ok(());
    }
    let status = follow(
        &format!("OpenBaoRestore {name}"),
        args.timeout.as_std(),
        &args.timeout.to_string(),
        "  ",
        || async {
            let request = lookup::restore(context, &name).await?;
            Ok(progress(&request))
        },
    )
    .await?;
    print!("{}", outcome(&name, &status));
    match status.phase {
        Some(RestorePhase::Completed) => Ok(()),
        _ => Err(PluginError::Failed(format!(
            "restore {name} failed: {}",
            failure_text(&status)
        ))),
    }
}

/// The request as `kubectl apply` would send it; the name comes from `generateName`.
fn request(namespace: &str, args: &RestoreArgs) -> Result<OpenBaoRestore, PluginError> {
    let source = match &args.key {
        Some(key) => json!({"key": key}),
        None => json!({"latest": true}),
    };
    serde_json::from_value(json!({
        "apiVersion": "openbao.org/v1alpha1",
        "kind": "OpenBaoRestore",
        "metadata": {"generateName": format!("{}-restore-", args.cluster), "namespace": namespace},
        "spec": {
            "cluster": args.cluster,
            "source": source,
            "auth": {"jwt": {"role": args.role}},
            "force": args.force,
            "dryRun": args.dry_run,
            "overrideOperationLock": args.override_lock,
        },
    }))
    .map_err(|error| PluginError::Failed(format!("cannot build the OpenBaoRestore: {error}")))
}

/// A restore replaces all data: on a terminal the person types the cluster name; without one, `--yes` is the
/// only way to say so.
fn confirm(namespace: &str, cluster: &str, source: &str) -> Result<(), PluginError> {
    if !std::io::stdin().is_terminal() {
        return Err(PluginError::Usage(format!(
            "refusing to restore {namespace}/{cluster} without confirmation: stdin is not a terminal; pass --yes to confirm (or --dry-run to rehearse)"
        )));
    }
    let mut stderr = std::io::stderr();
    let _ = write!(
        stderr,
        "This replaces ALL data of OpenBao cluster {namespace}/{cluster} with {source}.\nType the cluster name to continue: "
    );
    let _ = stderr.flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|error| PluginError::Failed(format!("cannot read the confirmation: {error}")))?;
    if answer.trim() == cluster {
        Ok(())
    } else {
        Err(PluginError::Usage(format!(
            "restore of {namespace}/{cluster} not confirmed; nothing was created"
        )))
    }
}

/// Where a request is: its phase, and while waiting for the lock, who holds it.
pub fn progress(request: &OpenBaoRestore) -> Step<OpenBaoRestoreStatus> {
    let status = request.status.clone().unwrap_or_default();
    let phase = phase_of(request);
    if phase.is_terminal() {
        return Step::Done(status);
    }
    let waiting = status
        .conditions
        .iter()
        .find(|c| c.type_ == "LockAcquired" && c.status == "False" && c.reason == "WaitingForLock");
    Step::Waiting(match (waiting, &status.message) {
        (Some(condition), _) => format!("{phase}: waiting for the lock: {}", condition.message),
        (None, Some(message)) if !message.is_empty() => format!("{phase}: {message}"),
        _ => phase.to_string(),
    })
}

/// The pinned snapshot and the outcome, with what to do after a sealed restore.
pub fn outcome(name: &str, status: &OpenBaoRestoreStatus) -> String {
    let mut out = String::new();
    if let Some(snapshot) = &status.snapshot {
        out += &format!("snapshot:   {}\n", snapshot.key);
        if let Some(bytes) = snapshot.size {
            out += &format!("  size:     {} ({bytes} bytes)\n", size(bytes));
        }
        if let Some(digest) = &snapshot.digest {
            out += &format!("  digest:   {digest}\n");
        }
        if let Some(created) = snapshot.created_at {
            out += &format!(
                "  taken:    {}\n",
                created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
        }
    }
    let phase = status.phase.unwrap_or_default();
    let reason = complete_reason(status).unwrap_or("-");
    out += &format!("outcome:    {phase} ({reason})\n");
    if let Some(message) = status.message.as_deref().filter(|m| !m.is_empty()) {
        out += &format!("  message:  {message}\n");
    }
    if reason == "RestoredSealed" {
        out += &format!(
            "The cluster is SEALED: unseal every node with the SOURCE cluster's unseal (or recovery) keys \
             (bao operator unseal). Restore {name} brought the source's auth configuration and tokens.\n"
        );
    }
    out
}

fn complete_reason(status: &OpenBaoRestoreStatus) -> Option<&str> {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == "RestoreComplete")
        .map(|c| c.reason.as_str())
}

fn failure_text(status: &OpenBaoRestoreStatus) -> String {
    let failed = status
        .conditions
        .iter()
        .find(|c| c.status == "False" && c.reason != "DryRun" && c.reason != "WaitingForLock");
    match (failed, &status.message) {
        (Some(condition), _) => format!("{}: {}", condition.reason, condition.message),
        (None, Some(message)) => message.clone(),
        (None, None) => "no reason recorded".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(value: serde_json::Value) -> OpenBaoRestoreStatus {
        serde_json::from_value(value).expect("a status")
    }

    fn condition(type_: &str, status: &str, reason: &str, message: &str) -> serde_json::Value {
        json!({"type": type_, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": "2026-12-03T04:00:00Z"})
    }

    #[test]
    fn a_sealed_outcome_says_to_unseal_with_the_source_keys() {
        let text = outcome(
            "r",
            &status(json!({"phase": "Completed",
                "snapshot": {"key": "old/x.snap", "size": 2048, "digest": "sha256:aa"},
                "conditions": [condition("RestoreComplete", "True", "RestoredSealed", "sealed")]})),
        );
        assert!(text.contains("snapshot:   old/x.snap"), "{text}");
        assert!(
            text.contains("outcome:    Completed (RestoredSealed)"),
            "{text}"
        );
        assert!(text.contains("SOURCE cluster's unseal"), "{text}");
    }

    #[test]
    fn a_failure_names_the_failed_condition() {
        let failed = status(json!({"phase": "Failed", "message": "m",
            "conditions": [condition("Validated", "False", "ManifestMissing", "no manifest")]}));
        assert_eq!(failure_text(&failed), "ManifestMissing: no manifest");
    }

    #[test]
    fn the_request_uses_generate_name_and_the_flags() {
        use clap::Parser;
        let cli = crate::plugin::cli::Cli::try_parse_from([
            "kubectl-openbao",
            "restore",
            "prod",
            "--key",
            "a/b.snap",
            "--force",
            "--override-lock",
            "--dry-run",
        ])
        .expect("parses");
        let crate::plugin::cli::Command::Restore(args) = cli.command else {
            panic!("restore");
        };
        let request = request("security", &args).expect("a request");
        assert_eq!(
            request.metadata.generate_name.as_deref(),
            Some("prod-restore-")
        );
        assert_eq!(request.spec.source.key.as_deref(), Some("a/b.snap"));
        assert!(request.spec.force && request.spec.dry_run && request.spec.override_operation_lock);
    }
}
