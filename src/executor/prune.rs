//! Applies retention after a successful backup: read this cluster's recovery points, let the pure selection
//! decide, delete what it marks (snapshot first, then manifest). A failure stops pruning and is reported; the
//! backup itself stays a success.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use object_store::ObjectStore;

use super::catalog::{self, RecoveryPoint};
use super::key::ClusterPrefix;
use super::retention::{self, Decision, PointFacts, RetentionRules};
use super::stage::error_chain;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct PruneOutcome {
    pub deleted: Vec<String>,
    pub kept: usize,
    pub error: Option<String>,
}

pub async fn prune(
    store: &Arc<dyn ObjectStore>,
    prefix: &ClusterPrefix,
    rules: Option<&RetentionRules>,
    now: DateTime<Utc>,
    just_written: &str,
) -> PruneOutcome {
    let mut outcome = PruneOutcome::default();
    if rules.is_none() {
        return outcome;
    }
    let points: Vec<RecoveryPoint> = match catalog::recovery_points(store, prefix).await {
        Ok(points) => points,
        Err(err) => {
            outcome.error = Some(error_chain(&err));
            return outcome;
        }
    };
    let facts: Vec<PointFacts> = points
        .iter()
        .map(|p| PointFacts {
            key: p.key.clone(),
            created: p.manifest.created,
            kind: p.manifest.kind,
        })
        .collect();
    let verdicts = retention::select(&facts, rules, now, Some(just_written));
    for verdict in verdicts {
        match verdict.decision {
            Decision::Keep(reasons) => {
                outcome.kept += 1;
                tracing::debug!(key = %verdict.key, ?reasons, "retention keeps");
            }
            Decision::Delete => match catalog::delete_point(store, &verdict.key).await {
                Ok(()) => {
                    tracing::info!(key = %verdict.key, "retention deleted");
                    outcome.deleted.push(verdict.key);
                }
                Err(err) => {
                    outcome.error = Some(error_chain(&err));
                    return outcome;
                }
            },
        }
    }
    outcome
}
