//! `kubectl openbao lock CLUSTER`: who holds `status.operationLock`, since when, under which epoch, and what waits
//! for it (restores with `LockAcquired=False, WaitingForLock`, queued manual backups).

use chrono::{DateTime, Utc};
use kube::ResourceExt;
use openbao_crds::{OpenBaoCluster, OpenBaoRestore};

use super::cli::ClusterArg;
use super::connect::Context;
use super::display::{Palette, relative, span};
use super::error::PluginError;
use super::lookup;
use super::summary::phase_of;
use crate::operator::time::to_chrono;

pub async fn run(context: &Context, args: ClusterArg) -> Result<(), PluginError> {
    let cluster = lookup::cluster(context, &args.cluster).await?;
    let restores = lookup::restores_of(context, &args.cluster).await?;
    print!(
        "{}",
        describe(&cluster, &restores, Utc::now(), Palette::for_stdout())
    );
    Ok(())
}

pub fn describe(
    cluster: &OpenBaoCluster,
    restores: &[OpenBaoRestore],
    now: DateTime<Utc>,
    palette: Palette,
) -> String {
    let status = cluster.status.clone().unwrap_or_default();
    let name = format!(
        "{}/{}",
        cluster.namespace().unwrap_or_default(),
        cluster.name_any()
    );
    let mut out = String::new();
    match &status.operation_lock {
        Some(lock) => {
            out += &format!(
                "{name}: {} by {}\n",
                palette.warn(&format!("held for {}", lock.operation)),
                lock.holder
            );
            out += &format!(
                "  since:     {} ({})\n",
                lock.acquired_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                format_args!("{} ago", span(now - lock.acquired_at))
            );
            if let Some(renewed) = lock.renewed_at {
                out += &format!("  renewed:   {}\n", relative(renewed, now));
            }
            out += &format!("  epoch:     {}\n", lock.epoch);
            if let Some(message) = &lock.message {
                out += &format!("  message:   {message}\n");
            }
        }
        None => {
            out += &format!("{name}: {}", palette.good("free"));
            if let Some(epoch) = status.last_lock_epoch {
                out += &format!(" (last epoch {epoch})");
            }
            out += "\n";
        }
    }
    let waiters = waiting_restores(restores, now);
    let triggers = status
        .backup
        .map(|b| b.pending_triggers)
        .unwrap_or_default();
    if waiters.is_empty() && triggers.is_empty() {
        out += "waiting:     nothing\n";
        return out;
    }
    out += "waiting:\n";
    for waiter in waiters {
        out += &format!("  {waiter}\n");
    }
    for trigger in triggers {
        out += &format!("  manual backup {trigger} (queued)\n");
    }
    out
}

/// Restores that asked for the lock and have not got it.
fn waiting_restores(restores: &[OpenBaoRestore], now: DateTime<Utc>) -> Vec<String> {
    let mut waiting: Vec<String> = restores
        .iter()
        .filter(|r| !phase_of(r).is_terminal())
        .filter_map(|r| {
            let condition = r.status.as_ref()?.conditions.iter().find(|c| {
                c.type_ == "LockAcquired" && c.status == "False" && c.reason == "WaitingForLock"
            })?;
            let since = to_chrono(&condition.last_transition_time)
                .map(|t| format!(" for {}", span(now - t)))
                .unwrap_or_default();
            Some(format!(
                "restore {}{since}: {}",
                r.name_any(),
                condition.message
            ))
        })
        .collect();
    waiting.sort();
    waiting
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_held_lock_names_holder_epoch_and_waiters() {
        let cluster: OpenBaoCluster = serde_json::from_value(json!({
            "apiVersion": "openbao.org/v1alpha1", "kind": "OpenBaoCluster",
            "metadata": {"name": "prod", "namespace": "default"},
            "spec": {"version": "2.7.2"},
            "status": {
                "operationLock": {"operation": "Backup", "holder": "prod-backup-1",
                    "acquiredAt": "2026-12-03T03:58:00Z", "epoch": 9},
                "backup": {"pendingTriggers": ["t2"]},
            },
        }))
        .expect("a cluster");
        let restore: OpenBaoRestore = serde_json::from_value(json!({
            "apiVersion": "openbao.org/v1alpha1", "kind": "OpenBaoRestore",
            "metadata": {"name": "bring-back", "namespace": "default"},
            "spec": {"cluster": "prod", "source": {"latest": true}, "auth": {"jwt": {"role": "restore"}}},
            "status": {"phase": "Validating", "conditions": [{"type": "LockAcquired", "status": "False",
                "reason": "WaitingForLock", "message": "Backup prod-backup-1 holds the lock",
                "lastTransitionTime": "2026-12-03T03:59:00Z"}]},
        }))
        .expect("a restore");
        let text = describe(
            &cluster,
            &[restore],
            "2026-12-03T04:00:00Z".parse().expect("now"),
            Palette::plain(),
        );
        for part in [
            "default/prod: held for Backup by prod-backup-1",
            "(2m ago)",
            "epoch:     9",
            "restore bring-back for 1m: Backup prod-backup-1 holds the lock",
            "manual backup t2 (queued)",
        ] {
            assert!(text.contains(part), "{part:?} in\n{text}");
        }
    }
}
