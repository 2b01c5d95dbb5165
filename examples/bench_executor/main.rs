//! Executor benchmark: one real OpenBao node and one S3 server on loopback, a snapshot of at least each requested
//! size, and per size the floors (what the endpoints alone cost), the hand pipeline people script today
//! (`bao operator raft snapshot save`, then `aws s3 cp`) and the executor (with the CPU floor of its checks),
//! every variant run `--runs` times, interleaved (A B C A B C ...) after one warm-up, with min and median wall
//! time, median CPU time, peak RSS and spread. Ends with a table saying per size whether each target holds. Run through `scripts/bench-executor.sh`.
//!
//! Usage: `bench_executor [--runs N] [--tmpfs] [--baseline <binary>] <executor binary> <size MiB>...` (sizes
//! ascending). `--tmpfs` only labels the output: the script points the temp dir (OpenBao's raft dir, the store's
//! data, scratch files) at a memory file system. `--baseline` adds another build of the executor (e.g. the last
//! commit's) to every round, to tell a change from noise.

mod measure;
mod report;
mod runs;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use openbao_test_harness::{
    BACKUP_POLICY, BACKUP_POLICY_NAME, OpenBaoCluster, OpenBaoOptions, RESTORE_POLICY,
    RESTORE_POLICY_NAME, S3Options, S3Server,
};

use report::{SizeResults, Variant};
use runs::{Bench, DEFAULT_PART_SIZE, DEFAULT_UPLOAD_CONCURRENCY, HASH_FLOOR_MODE};

const USAGE: &str = "usage: bench_executor [--runs N] [--tmpfs] [--baseline <binary>] <executor binary> <size MiB>...";

struct Args {
    runs: usize,
    tmpfs: bool,
    baseline: Option<PathBuf>,
    executor: PathBuf,
    sizes: Vec<usize>,
}

fn parse_args() -> Args {
    let mut runs = 5;
    let mut tmpfs = false;
    let mut baseline = None;
    let mut positional = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => {
                runs = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .expect("--runs takes a whole number > 0")
            }
            "--tmpfs" => tmpfs = true,
            "--baseline" => baseline = Some(PathBuf::from(args.next().expect(USAGE))),
            _ => positional.push(arg),
        }
    }
    let mut positional = positional.into_iter();
    let executor = PathBuf::from(positional.next().expect(USAGE));
    let sizes: Vec<usize> = positional
        .map(|a| a.parse().expect("size in MiB"))
        .collect();
    assert!(!sizes.is_empty(), "{USAGE}");
    Args {
        runs,
        tmpfs,
        baseline,
        executor,
        sizes,
    }
}

/// `EXECUTOR_PART_SIZE` as the executor reads it (bytes, or with a `Ki`/`Mi`/`Gi` suffix).
fn part_size() -> u64 {
    let Ok(text) = std::env::var("EXECUTOR_PART_SIZE") else {
        return DEFAULT_PART_SIZE;
    };
    let (digits, multiplier) = [("Gi", 1u64 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)]
        .iter()
        .find_map(|(suffix, m)| text.strip_suffix(suffix).map(|d| (d, *m)))
        .unwrap_or((text.as_str(), 1));
    digits.parse::<u64>().expect("EXECUTOR_PART_SIZE") * multiplier
}

fn main() {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some(HASH_FLOOR_MODE) {
        let bytes = args.next().and_then(|b| b.parse().ok());
        runs::hash_floor(bytes.expect("the byte count to hash"));
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(bench());
}

async fn bench() {
    let args = parse_args();
    for tool in ["curl", "/usr/bin/time"] {
        assert!(
            Command::new(tool)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok(),
            "{tool} is required"
        );
    }
    let cluster = OpenBaoCluster::start(
        1,
        OpenBaoOptions {
            timeout: Duration::from_secs(600),
            ..OpenBaoOptions::default()
        },
    )
    .await
    .expect("OpenBao started (run scripts/install-test-tools.sh first)");
    let s3 = S3Server::start(S3Options::default()).expect("S3 server started");
    for (name, policy) in [
        (BACKUP_POLICY_NAME, BACKUP_POLICY),
        (RESTORE_POLICY_NAME, RESTORE_POLICY),
    ] {
        cluster
            .write_policy(name, policy)
            .await
            .expect("policy written");
    }
    let executor_token = cluster
        .create_token(&[BACKUP_POLICY_NAME, RESTORE_POLICY_NAME])
        .await
        .expect("an executor token");
    let mut bench = Bench {
        executor_token,
        cluster,
        s3,
        executor: args.executor,
        baseline: args.baseline,
        work: tempfile::tempdir().expect("work dir"),
        written_mib: 0,
        part_size: part_size(),
        concurrency: std::env::var("EXECUTOR_UPLOAD_CONCURRENCY")
            .map(|n| n.parse().expect("EXECUTOR_UPLOAD_CONCURRENCY"))
            .unwrap_or(DEFAULT_UPLOAD_CONCURRENCY),
    };
    let mode = if args.tmpfs {
        "memory file system"
    } else {
        "disk"
    };
    println!(
        "mode: {mode} (OpenBao raft dir, store data and scratch files under {}); {} interleaved runs per variant; part size {} MiB, upload concurrency {}",
        std::env::temp_dir().display(),
        args.runs,
        bench.part_size >> 20,
        bench.concurrency
    );
    let started = Instant::now();
    let mut all = Vec::new();
    for size in args.sizes {
        bench.grow_to(size).await;
        let results = run_size(&bench, args.runs).await;
        results.print();
        all.push(results);
    }
    report::summary(&all);
    println!(
        "\ntotal {:.0} s (including filling OpenBao)",
        started.elapsed().as_secs_f64()
    );
}

/// One warm-up of OpenBao and the store, then `runs` rounds of every variant in the same order.
async fn run_size(bench: &Bench, runs: usize) -> SizeResults {
    let leader = bench.cluster.leader_addr().await.unwrap();
    let started = Instant::now();
    bench.snapshot_floor(&leader);
    bench.pipeline(&leader);
    bench.store_put();
    // The snapshot every restore run restores: the cluster's current state.
    let (_, key) = bench.ours_backup(&bench.executor, &leader);
    let size = std::fs::metadata(bench.snapshot_file()).unwrap().len();
    let mut results = SizeResults::new(size, bench.written_mib);
    eprintln!("warm-up took {:.1} s", started.elapsed().as_secs_f64());
    for round in 1..=runs {
        let started = Instant::now();
        flush_disk();
        results.add(Variant::SnapshotFloor, bench.snapshot_floor(&leader));
        flush_disk();
        results.add(Variant::Pipeline, bench.pipeline(&leader));
        flush_disk();
        results.add(Variant::StorePut, bench.store_put());
        flush_disk();
        results.add(Variant::StoreMultipart, bench.store_multipart());
        flush_disk();
        let (ours, new_key) = bench.ours_backup(&bench.executor, &leader);
        bench.forget(&new_key);
        results.add(Variant::OursBackup, ours);
        results.add(Variant::HashFloor, bench.hash_floor(size));
        if let Some(baseline) = &bench.baseline {
            flush_disk();
            let (measured, new_key) = bench.ours_backup(baseline, &leader);
            bench.forget(&new_key);
            results.add(Variant::BaselineBackup, measured);
        }
        flush_disk();
        results.add(
            Variant::RestoreFloor,
            bench.restore_floor(&leader, &key).await,
        );
        flush_disk();
        let (accepted, whole) = bench.ours_restore(&bench.executor, &leader, &key).await;
        results.add(Variant::OursRestore, accepted);
        results.add(Variant::OursRestoreWhole, whole);
        if let Some(baseline) = &bench.baseline {
            flush_disk();
            let (accepted, _) = bench.ours_restore(baseline, &leader, &key).await;
            results.add(Variant::BaselineRestore, accepted);
        }
        eprintln!(
            "{} MiB: round {round}/{runs} took {:.1} s",
            size >> 20,
            started.elapsed().as_secs_f64()
        );
    }
    results
}

/// Writes back every dirty page before a variant starts (untimed), so the writeback one variant leaves behind
/// (a restore leaves a whole new database) does not land in the next one's figures.
fn flush_disk() {
    let status = Command::new("sync").status().expect("sync runs");
    assert!(status.success(), "sync failed: {status}");
}
