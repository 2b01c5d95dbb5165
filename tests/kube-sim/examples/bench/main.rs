//! Simulator figures, not pass/fail:
//! - `basic`: request throughput with 1,000 ConfigMaps and watch latency across 100 watchers;
//! - `mix`: the operator's write mix on N OpenBaoClusters (the project's CRDs with schema + CEL validation):
//!   status merge patches with resourceVersion preconditions, Job and Event creates, with watchers on clusters,
//!   labelled Jobs, Pods and Events; prints writes/s and watch delivery latency;
//! - `jobs`: N operator-like backup Jobs run to completion by the Job controller and kubelet (no-op program).
//!
//! Run with `cargo run --release -p kube-sim --example bench [basic|mix|jobs|all] [N]` (N defaults to 1,000).

mod basic;
mod figures;
mod fixtures;
mod jobs;
mod mix;
mod watchers;

const DEFAULT_COUNT: usize = 1_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let section = args.next().unwrap_or_else(|| "all".to_string());
    let count = match args.next() {
        Some(count) => count.parse()?,
        None => DEFAULT_COUNT,
    };
    match section.as_str() {
        "basic" => basic::run().await,
        "mix" => mix::run(count).await,
        "jobs" => jobs::run(count).await,
        "all" => {
            basic::run().await?;
            mix::run(count).await?;
            jobs::run(count).await
        }
        other => anyhow::bail!("unknown section {other:?}: expected basic, mix, jobs or all"),
    }
}
