//! `openbao-operator run` flags (each also readable from the environment, as the Deployment sets them).

use std::net::SocketAddr;

use clap::{Args, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line, for log pipelines.
    Json,
    /// Human-readable lines.
    Text,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Image for backup Jobs when `spec.backup.executor.image` is unset; normally the operator's own image.
    #[arg(
        long,
        env = "OPERATOR_EXECUTOR_IMAGE",
        default_value = concat!("ghcr.io/openbao-operator/openbao-operator:v", env!("CARGO_PKG_VERSION"))
    )]
    pub executor_image: String,
    /// Address of the HTTP server for `/metrics`, `/healthz` and `/readyz`.
    #[arg(long, env = "OPERATOR_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: SocketAddr,
    /// Watch only this namespace; default: all namespaces.
    #[arg(long, env = "OPERATOR_WATCH_NAMESPACE")]
    pub namespace: Option<String>,
    #[arg(long, env = "OPERATOR_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
    /// Namespace of the leader-election Lease; default: the kubeconfig's namespace.
    #[arg(long, env = "POD_NAMESPACE")]
    pub pod_namespace: Option<String>,
    /// Leader-election identity; default: the host name.
    #[arg(long, env = "POD_NAME")]
    pub pod_name: Option<String>,
    #[arg(
        long,
        env = "OPERATOR_LEASE_NAME",
        default_value = "openbao-operator-leader"
    )]
    pub lease_name: String,
    /// A leader that has not renewed for this long is replaced.
    #[arg(long, env = "OPERATOR_LEASE_DURATION_SECONDS", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(3..=600))]
    pub lease_duration_seconds: u64,
    /// Most API requests the actors have in flight at once (watches excepted). Bounds the connections a burst
    /// of due clusters opens to the API server, like client-go's QPS limits but without slowing a quiet operator.
    #[arg(long, env = "OPERATOR_API_MAX_IN_FLIGHT", default_value_t = 32,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub api_max_in_flight: u16,
    /// How long an upgrade waits for a replaced OpenBao Pod (or the cluster) to become healthy before it stops
    /// with `PodNotHealthy`.
    #[arg(long, env = "OPERATOR_UPGRADE_POD_TIMEOUT_SECONDS", default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(10..=86_400))]
    pub upgrade_pod_timeout_seconds: u64,
    /// How long finished backup Jobs (and their Pods' logs) are kept.
    #[arg(long, env = "OPERATOR_JOB_TTL_SECONDS", default_value_t = 86_400)]
    pub job_ttl_seconds: i32,
}
