//! `kubectl openbao points CLUSTER`: the verified recovery points in `status.backup.recoveryPoints`, newest first
//! (the first is what `restore --latest` restores).

use chrono::{SecondsFormat, Utc};
use openbao_crds::RecoveryPoint;

use super::cli::PointsArgs;
use super::connect::Context;
use super::display::{relative, short_digest, size, table};
use super::error::PluginError;
use super::lookup;
use super::output::render;

pub async fn run(context: &Context, args: PointsArgs) -> Result<(), PluginError> {
    let cluster = lookup::cluster(context, &args.cluster).await?;
    let points = newest_first(
        cluster
            .status
            .and_then(|s| s.backup)
            .map(|b| b.recovery_points)
            .unwrap_or_default(),
    );
    match args.output {
        Some(format) => print!("{}", render(format, &points)?),
        None if points.is_empty() => eprintln!(
            "No verified recovery points for {}/{} yet.",
            context.namespace()?,
            args.cluster
        ),
        None => print!("{}", points_table(&points, Utc::now())),
    }
    Ok(())
}

/// The order a `source.latest` restore ranks by: time, then key, both descending.
pub fn newest_first(mut points: Vec<RecoveryPoint>) -> Vec<RecoveryPoint> {
    points.sort_by(|a, b| (b.time, &b.key).cmp(&(a.time, &a.key)));
    points
}

pub fn points_table(points: &[RecoveryPoint], now: chrono::DateTime<Utc>) -> String {
    let rows: Vec<Vec<String>> = points
        .iter()
        .map(|p| {
            vec![
                p.time.to_rfc3339_opts(SecondsFormat::Secs, true),
                relative(p.time, now),
                p.kind.to_string(),
                size(p.size),
                short_digest(&p.digest),
                p.key.clone(),
            ]
        })
        .collect();
    table(&["TIME", "AGE", "KIND", "SIZE", "DIGEST", "KEY"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openbao_crds::BackupKind;

    fn point(key: &str, time: &str) -> RecoveryPoint {
        RecoveryPoint {
            key: key.into(),
            time: time.parse().expect("time"),
            size: 2048,
            digest: format!("sha256:{}", "ab".repeat(32)),
            kind: BackupKind::Manual,
        }
    }

    #[test]
    fn newest_first_by_time_then_key() {
        let sorted = newest_first(vec![
            point("a.snap", "2026-12-01T00:00:00Z"),
            point("c.snap", "2026-12-02T00:00:00Z"),
            point("d.snap", "2026-12-02T00:00:00Z"),
        ]);
        let keys: Vec<_> = sorted.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["d.snap", "c.snap", "a.snap"]);
        let text = points_table(&sorted, "2026-12-02T01:00:00Z".parse().expect("now"));
        let row: Vec<&str> = text
            .lines()
            .nth(1)
            .expect("a row")
            .split("   ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        assert_eq!(
            row,
            [
                "2026-12-02T00:00:00Z",
                "1h ago",
                "manual",
                "2.0 KiB",
                "sha256:abababababab…",
                "d.snap"
            ],
            "{text}"
        );
    }
}
