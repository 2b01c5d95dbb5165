//! `kubectl openbao status [CLUSTER]`: one line per cluster, or everything about one.

use chrono::{DateTime, Utc};
use kube::ResourceExt;

use super::cli::StatusArgs;
use super::connect::{Context, Scope};
use super::display::{Palette, relative, size, span, table};
use super::error::PluginError;
use super::lookup;
use super::output::render;
use super::summary::ClusterSummary;

pub async fn run(context: &Context, args: StatusArgs) -> Result<(), PluginError> {
    let now = Utc::now();
    let palette = Palette::for_stdout();
    match args.cluster {
        Some(name) => {
            let cluster = lookup::cluster(context, &name).await?;
            let restores = lookup::restores(context).await?;
            let summary = ClusterSummary::of(&cluster, &restores);
            match args.output {
                Some(format) => print!("{}", render(format, &summary)?),
                None => print!("{}", detail(&summary, now, palette)),
            }
        }
        None => {
            let mut clusters = lookup::clusters(context).await?;
            clusters.sort_by_key(|c| (c.namespace(), c.name_any()));
            let restores = lookup::restores(context).await?;
            let summaries: Vec<ClusterSummary> = clusters
                .iter()
                .map(|cluster| ClusterSummary::of(cluster, &restores))
                .collect();
            match (args.output, summaries.is_empty()) {
                (Some(format), _) => print!("{}", render(format, &summaries)?),
                (None, true) => match &context.scope {
                    Scope::Namespace(namespace) => {
                        eprintln!("No OpenBaoClusters in namespace {namespace}.")
                    }
                    Scope::All => eprintln!("No OpenBaoClusters in any namespace."),
                },
                (None, false) => print!(
                    "{}",
                    lines(&summaries, context.scope == Scope::All, now, palette)
                ),
            }
        }
    }
    Ok(())
}

/// The one-line-per-cluster table.
pub fn lines(
    summaries: &[ClusterSummary],
    with_namespace: bool,
    now: DateTime<Utc>,
    palette: Palette,
) -> String {
    let mut header = vec![
        "NAME",
        "VERSION",
        "LAST BACKUP",
        "NEXT BACKUP",
        "FAILURES",
        "LOCK",
        "RESTORES",
    ];
    if with_namespace {
        header.insert(0, "NAMESPACE");
    }
    let rows: Vec<Vec<String>> = summaries
        .iter()
        .map(|s| {
            let mut row = vec![
                s.name.clone(),
                version(s),
                last_backup(s, now, palette),
                next_backup(s, now),
                failures(s, palette),
                lock(s, now, palette),
                restores(s),
            ];
            if with_namespace {
                row.insert(0, s.namespace.clone());
            }
            row
        })
        .collect();
    table(&header, &rows)
}

/// Everything about one cluster, one fact per line.
pub fn detail(s: &ClusterSummary, now: DateTime<Utc>, palette: Palette) -> String {
    let mut out = format!("Cluster:       {}/{}\n", s.namespace, s.name);
    out += &format!("Version:       {}\n", version(s));
    if let Some(upgrade) = &s.upgrade {
        out += &format!(
            "Upgrade:       {} → {} {} ({} Pods replaced)\n",
            upgrade.from_version, upgrade.to_version, upgrade.phase, upgrade.pods_updated
        );
        if let Some(key) = &upgrade.pre_upgrade_snapshot_key {
            out += &format!("  snapshot:    {key}\n");
        }
        if let Some(message) = &upgrade.message {
            out += &format!("  message:     {message}\n");
        }
    }
    out += &format!("Last backup:   {}\n", last_backup(s, now, palette));
    if let Some(last) = &s.last_backup {
        if let Some(key) = &last.key {
            out += &format!("  key:         {key}\n");
        }
        if let Some(bytes) = last.size {
            out += &format!("  size:        {} ({bytes} bytes)\n", size(bytes));
        }
        if let Some(digest) = &last.digest {
            out += &format!("  digest:      {digest}\n");
        }
        if let Some(duration) = &last.duration {
            out += &format!("  took:        {duration}\n");
        }
    }
    out += &format!("Next backup:   {}\n", next_backup(s, now));
    out += &format!("Failures:      {}\n", failures(s, palette));
    if let Some(failure) = &s.last_failure {
        out += &format!(
            "  last:        {} {}: {}\n",
            relative(failure.time, now),
            failure.reason,
            failure.message
        );
    }
    out += &format!("Lock:          {}\n", lock(s, now, palette));
    if let Some(lock) = &s.lock {
        out += &format!("  epoch:       {}\n", lock.epoch);
        if let Some(message) = &lock.message {
            out += &format!("  message:     {message}\n");
        }
    }
    if !s.pending_triggers.is_empty() {
        out += &format!("Queued:        {}\n", s.pending_triggers.join(", "));
    }
    out += "Restores:      ";
    if s.restores_in_flight.is_empty() {
        out += "none in flight\n";
    } else {
        out += "\n";
        for restore in &s.restores_in_flight {
            let dry = if restore.dry_run { " (dry run)" } else { "" };
            out += &format!("  {}  {}{dry}\n", restore.name, restore.phase);
        }
    }
    out
}

fn version(s: &ClusterSummary) -> String {
    let base = match &s.current_version {
        Some(current) if current.trim_start_matches('v') != s.version.trim_start_matches('v') => {
            format!("{current} (wants {})", s.version)
        }
        _ => s.version.clone(),
    };
    match &s.upgrade {
        Some(upgrade) if upgrade.is_news() => format!(
            "{base}, upgrade to {} {}",
            upgrade.to_version, upgrade.phase
        ),
        _ => base,
    }
}

fn last_backup(s: &ClusterSummary, now: DateTime<Utc>, palette: Palette) -> String {
    match &s.last_backup {
        Some(last) => {
            let when = relative(last.time, now);
            if s.consecutive_failures == 0 {
                palette.good(&when)
            } else {
                palette.warn(&when)
            }
        }
        None if s.backups_configured => palette.warn("never"),
        None => "not configured".to_string(),
    }
}

fn next_backup(s: &ClusterSummary, now: DateTime<Utc>) -> String {
    match (s.backups_configured, s.suspended, s.next_backup) {
        (false, _, _) => "-".into(),
        (true, true, _) => "suspended".into(),
        (true, false, Some(next)) => relative(next, now),
        (true, false, None) => "-".into(),
    }
}

fn failures(s: &ClusterSummary, palette: Palette) -> String {
    match (&s.last_failure, s.consecutive_failures) {
        (_, 0) => "0".into(),
        (Some(failure), n) => palette.bad(&format!("{n} ({})", failure.reason)),
        (None, n) => palette.bad(&n.to_string()),
    }
}

fn lock(s: &ClusterSummary, now: DateTime<Utc>, palette: Palette) -> String {
    match &s.lock {
        Some(lock) => palette.warn(&format!(
            "{} by {} for {}",
            lock.operation,
            lock.holder,
            span(now - lock.since)
        )),
        None => "free".into(),
    }
}

fn restores(s: &ClusterSummary) -> String {
    if s.restores_in_flight.is_empty() {
        return "-".into();
    }
    s.restores_in_flight
        .iter()
        .map(|r| format!("{} ({})", r.name, r.phase))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::summary::{Failure, LastBackup, Lock, RestoreInFlight};

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("a time")
    }

    fn summary() -> ClusterSummary {
        ClusterSummary {
            namespace: "security".into(),
            name: "prod".into(),
            version: "2.7.2".into(),
            current_version: Some("2.7.2".into()),
            backups_configured: true,
            suspended: false,
            last_backup: Some(LastBackup {
                time: at("2026-12-03T02:00:00Z"),
                key: Some("k.snap".into()),
                size: Some(3_250_000),
                digest: Some("sha256:ab".into()),
                duration: Some("2s".into()),
            }),
            next_backup: Some(at("2026-12-03T06:00:00Z")),
            consecutive_failures: 1,
            last_failure: Some(Failure {
                time: at("2026-12-03T03:00:00Z"),
                reason: "StorageError".into(),
                message: "bucket gone".into(),
            }),
            lock: Some(Lock {
                operation: "Restore".into(),
                holder: "bring-back".into(),
                since: at("2026-12-03T03:59:00Z"),
                epoch: 4,
                message: None,
            }),
            pending_triggers: vec![],
            restores_in_flight: vec![RestoreInFlight {
                name: "bring-back".into(),
                phase: "Running".into(),
                dry_run: false,
            }],
            upgrade: None,
        }
    }

    #[test]
    fn one_line_per_cluster_says_what_matters_at_3am() {
        let text = lines(
            &[summary()],
            false,
            at("2026-12-03T04:00:00Z"),
            Palette::plain(),
        );
        let mut lines = text.lines();
        assert!(
            lines
                .next()
                .expect("header")
                .starts_with("NAME   VERSION   LAST BACKUP")
        );
        let row = lines.next().expect("a row");
        for part in [
            "prod",
            "2h ago",
            "in 2h",
            "1 (StorageError)",
            "Restore by bring-back for 1m",
            "bring-back (Running)",
        ] {
            assert!(row.contains(part), "{part:?} in {row:?}");
        }
    }

    #[test]
    fn the_detail_names_key_size_failure_and_epoch() {
        let text = detail(&summary(), at("2026-12-03T04:00:00Z"), Palette::plain());
        for part in [
            "key:         k.snap",
            "3.1 MiB",
            "StorageError: bucket gone",
            "epoch:       4",
        ] {
            assert!(text.contains(part), "{part:?} in\n{text}");
        }
    }

    #[test]
    fn an_upgrade_in_progress_or_stopped_shows_in_the_version_and_the_detail() {
        let mut s = summary();
        s.current_version = Some("2.6.2".into());
        s.upgrade = Some(crate::plugin::summary::Upgrade {
            from_version: "2.6.2".into(),
            to_version: "2.7.2".into(),
            phase: "Blocked".into(),
            pods_updated: 0,
            pre_upgrade_snapshot_key: None,
            message: Some("the pre-upgrade snapshot failed".into()),
        });
        let now = at("2026-12-03T04:00:00Z");
        let row = lines(&[s.clone()], false, now, Palette::plain());
        assert!(
            row.contains("2.6.2 (wants 2.7.2), upgrade to 2.7.2 Blocked"),
            "{row}"
        );
        let text = detail(&s, now, Palette::plain());
        assert!(
            text.contains("Upgrade:       2.6.2 → 2.7.2 Blocked (0 Pods replaced)"),
            "{text}"
        );
        assert!(
            text.contains("message:     the pre-upgrade snapshot failed"),
            "{text}"
        );
        s.upgrade.as_mut().unwrap().phase = "Completed".into();
        s.current_version = Some("2.7.2".into());
        let row = lines(&[s], false, now, Palette::plain());
        assert!(
            !row.contains("upgrade to"),
            "a completed upgrade is history: {row}"
        );
    }
}
