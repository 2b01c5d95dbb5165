//! Per-size tables and the closing table of targets.

use std::collections::BTreeMap;

use crate::measure::{Measured, Stats};

const MIB: f64 = 1024.0 * 1024.0;
const RSS_LIMIT_MIB: f64 = 64.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Variant {
    SnapshotFloor,
    StorePut,
    StoreMultipart,
    Pipeline,
    OursBackup,
    HashFloor,
    BaselineBackup,
    RestoreFloor,
    OursRestore,
    OursRestoreWhole,
    BaselineRestore,
}

impl Variant {
    fn label(self) -> &'static str {
        match self {
            Self::SnapshotFloor => "snapshot floor: curl GET snapshot > /dev/null",
            Self::StorePut => "store floor, single PUT: curl --aws-sigv4 PUT",
            Self::StoreMultipart => "store floor, multipart: aws s3 cp, executor's parts",
            Self::Pipeline => "hand pipeline: bao snapshot save + aws s3 cp",
            Self::OursBackup => "ours: executor backup (verify + manifest + head)",
            Self::HashFloor => "  (CPU floor of its checks: SHA-256 of the size x 2)",
            Self::RestoreFloor => "restore floor: curl GET + curl POST",
            Self::OursRestore => "ours: executor restore, until OpenBao accepted",
            Self::OursRestoreWhole => "  (ours: executor restore, whole run with settle)",
            Self::BaselineBackup => "baseline build: executor backup",
            Self::BaselineRestore => "baseline build: executor restore, until accepted",
        }
    }
}

pub struct SizeResults {
    snapshot_bytes: u64,
    secrets_mib: usize,
    runs: BTreeMap<Variant, Vec<Measured>>,
}

/// The medians one size's targets are decided on.
struct Verdicts {
    mib: f64,
    runs: usize,
    ours_backup: Stats,
    snapshot_floor: Stats,
    put_floor: Stats,
    multipart_floor: Stats,
    hash_floor: Stats,
    pipeline: Stats,
    ours_restore: Stats,
    restore_floor: Stats,
}

impl SizeResults {
    pub fn new(snapshot_bytes: u64, secrets_mib: usize) -> Self {
        Self {
            snapshot_bytes,
            secrets_mib,
            runs: BTreeMap::new(),
        }
    }

    pub fn add(&mut self, variant: Variant, measured: Measured) {
        self.runs.entry(variant).or_default().push(measured);
    }

    fn stats(&self, variant: Variant) -> Stats {
        Stats::of(&self.runs[&variant])
    }

    fn verdicts(&self) -> Verdicts {
        Verdicts {
            mib: self.snapshot_bytes as f64 / MIB,
            runs: self.runs[&Variant::OursBackup].len(),
            ours_backup: self.stats(Variant::OursBackup),
            snapshot_floor: self.stats(Variant::SnapshotFloor),
            put_floor: self.stats(Variant::StorePut),
            multipart_floor: self.stats(Variant::StoreMultipart),
            hash_floor: self.stats(Variant::HashFloor),
            pipeline: self.stats(Variant::Pipeline),
            ours_restore: self.stats(Variant::OursRestore),
            restore_floor: self.stats(Variant::RestoreFloor),
        }
    }

    pub fn print(&self) {
        let v = self.verdicts();
        println!(
            "\n== snapshot {:.0} MiB ({} MiB of secrets), {} interleaved runs per variant",
            v.mib, self.secrets_mib, v.runs
        );
        println!(
            "{:<52} {:>7} {:>8} {:>7} {:>8} {:>6}",
            "variant", "min s", "median s", "CPU s", "RSS MiB", "spread"
        );
        for (variant, runs) in &self.runs {
            let s = Stats::of(runs);
            println!(
                "{:<52} {:>7.2} {:>8.2} {:>7.2} {:>8.1} {:>6.2}",
                variant.label(),
                s.min,
                s.median,
                s.median_cpu,
                s.peak_rss_mib,
                s.spread
            );
        }
        let floor = v.backup_floor();
        println!(
            "backup (medians): ours / max(snapshot floor, multipart floor) = {:.2} (target <= 1.25); ours / max(snapshot floor, single-PUT floor) = {:.2}; ours CPU / pipeline CPU = {:.2} (target <= 0.5); ours CPU / verified CPU floor = {:.2}; pipeline / ours wall = {:.2}; ours peak RSS {:.1} MiB (target <= 64)",
            v.ours_backup.median / floor,
            v.ours_backup.median / v.snapshot_floor.median.max(v.put_floor.median),
            v.ours_backup.median_cpu / v.pipeline.median_cpu,
            v.ours_backup.median_cpu / v.verified_cpu_floor(),
            v.pipeline.median / v.ours_backup.median,
            v.ours_backup.peak_rss_mib
        );
        println!(
            "restore (medians): ours until accepted / (GET + POST floor) = {:.2} (target <= 1.2); ours peak RSS {:.1} MiB (target <= 64)",
            v.ours_restore.median / v.restore_floor.median,
            v.ours_restore.peak_rss_mib
        );
        if self.runs.contains_key(&Variant::BaselineRestore) {
            println!(
                "this build / baseline build (medians): backup {:.2}, restore until accepted {:.2}",
                v.ours_backup.median / self.stats(Variant::BaselineBackup).median,
                v.ours_restore.median / self.stats(Variant::BaselineRestore).median
            );
        }
    }
}

impl Verdicts {
    fn backup_floor(&self) -> f64 {
        self.snapshot_floor.median.max(self.multipart_floor.median)
    }

    /// The least CPU a verified backup can take: receiving the snapshot (the snapshot floor's), sending it (the
    /// single-PUT floor's) and its two SHA-256 digests.
    fn verified_cpu_floor(&self) -> f64 {
        self.snapshot_floor.median_cpu + self.put_floor.median_cpu + self.hash_floor.median_cpu
    }

    /// (target, holds, figures); `None` for a figure printed for context only.
    fn targets(&self) -> Vec<(&'static str, Option<bool>, String)> {
        let floor = self.backup_floor();
        let backup_ratio = self.ours_backup.median / floor;
        let cpu_ratio = self.ours_backup.median_cpu / self.pipeline.median_cpu;
        let restore_ratio = self.ours_restore.median / self.restore_floor.median;
        let verified_floor = self.verified_cpu_floor();
        vec![
            (
                "backup wall <= 1.25 x max(snapshot, multipart floor)",
                Some(backup_ratio <= 1.25),
                format!(
                    "{:.2} s vs max({:.2}, {:.2}) s: {backup_ratio:.2}",
                    self.ours_backup.median,
                    self.snapshot_floor.median,
                    self.multipart_floor.median
                ),
            ),
            (
                "backup CPU <= 0.5 x hand pipeline CPU",
                Some(cpu_ratio <= 0.5),
                format!(
                    "{:.2} s vs {:.2} s: {cpu_ratio:.2}",
                    self.ours_backup.median_cpu, self.pipeline.median_cpu
                ),
            ),
            (
                "  (backup CPU vs GET + PUT + 2 x SHA-256 CPU)",
                None,
                format!(
                    "{:.2} s vs {:.2} + {:.2} + {:.2} s: {:.2}",
                    self.ours_backup.median_cpu,
                    self.snapshot_floor.median_cpu,
                    self.put_floor.median_cpu,
                    self.hash_floor.median_cpu,
                    self.ours_backup.median_cpu / verified_floor
                ),
            ),
            (
                "backup peak RSS <= 64 MiB",
                Some(self.ours_backup.peak_rss_mib <= RSS_LIMIT_MIB),
                format!("{:.1} MiB", self.ours_backup.peak_rss_mib),
            ),
            (
                "restore until accepted <= 1.2 x (GET + POST)",
                Some(restore_ratio <= 1.2),
                format!(
                    "{:.2} s vs {:.2} s: {restore_ratio:.2}",
                    self.ours_restore.median, self.restore_floor.median
                ),
            ),
            (
                "restore peak RSS <= 64 MiB",
                Some(self.ours_restore.peak_rss_mib <= RSS_LIMIT_MIB),
                format!("{:.1} MiB", self.ours_restore.peak_rss_mib),
            ),
        ]
    }
}

/// Per size, whether each target holds (medians; RSS is the peak over all runs).
pub fn summary(sizes: &[SizeResults]) {
    let Some(first) = sizes.first() else { return };
    println!(
        "\n== targets (medians of {} interleaved runs)",
        first.verdicts().runs
    );
    println!("{:<9} {:<53} {:<5} figures", "snapshot", "target", "holds");
    for size in sizes {
        let v = size.verdicts();
        for (target, holds, figures) in v.targets() {
            println!(
                "{:<9} {target:<53} {:<5} {figures}",
                format!("{:.0} MiB", v.mib),
                match holds {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "info",
                }
            );
        }
    }
}
