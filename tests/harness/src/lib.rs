//! Real OpenBao clusters and object-store servers on 127.0.0.1 for tests; every process stops on drop.
//!
//! - [`OpenBaoCluster`]: 1 or 3 real `bao` raft servers (initialized, unsealed, leader elected), with helpers
//!   for KV secrets, snapshots, step-down, seal/unseal, node stop/restart, JWT auth and scoped tokens.
//! - [`TestJwtSigner`]: an ES256 key per test that mints tokens the way a Kubernetes projected token looks.
//! - [`OpenBaoProxy`]: a recording reverse proxy in front of a node (proves which calls reached OpenBao, and
//!   can emulate a standby that answers the snapshot with an empty body).
//! - [`S3Server`] (in-process s3s-fs, SigV4 checked), [`GcsServer`] (in-process GCS XML API, bearer auth),
//!   [`AzuriteServer`] (Azurite blob service): each with a pre-created bucket and an `object_store()` for
//!   assertions; [`TestStore`] picks one by [`StoreProvider`].
//!
//! - [`kubectl::Kubectl`]: the real kubectl with a deadline; [`operator::OperatorLaunch`]: the operator binary as
//!   a guarded process; [`wait::poll_until`]: waiting for a condition with a deadline; [`ports::free_port`].
//!
//! External programs come from `scripts/install-test-tools.sh`; see [`tools`]. A missing program fails the
//! test with a message saying how to install it.

mod background;
pub mod kubectl;
pub mod leaks;
pub mod openbao;
pub mod operator;
pub mod ports;
pub mod process;
pub mod proxy;
pub mod scratch;
pub mod stores;
pub mod tools;
pub mod wait;

pub use openbao::{
    BACKUP_POLICY, BACKUP_POLICY_NAME, JwtAuthSetup, OpenBaoCluster, OpenBaoError, OpenBaoOptions,
    RESTORE_POLICY, RESTORE_POLICY_NAME, Release, TestJwtSigner,
};
pub use proxy::{OpenBaoProxy, RecordedRequest};
pub use stores::{
    AzuriteServer, Dialect, Fault, FaultProxy, FaultRule, GcsServer, S3Options, S3Server,
    StoreError, StoreFaults, StoreOp, StoreProvider, TestStore, UploadStats,
};

/// Installs rustls' aws-lc-rs provider as the process default. Needed once per test binary when crates
/// with different rustls providers meet (kube, object_store, reqwest); every `start` here calls it.
pub fn install_crypto_provider() {
    // An error only means a provider is already installed, which is what we want.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
