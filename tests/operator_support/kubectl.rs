//! The tools' kubectl against the simulator's kubeconfig.

use std::path::Path;

use openbao_test_harness::kubectl::Kubectl;
#[allow(unused_imports)] // Only the acceptance tests read tables.
pub use openbao_test_harness::kubectl::parse_table;

/// Runs kubectl and returns stdout; panics with stderr when it fails.
pub async fn kubectl(kubeconfig: &Path, args: &[&str]) -> String {
    Kubectl::tools()
        .with_kubeconfig(kubeconfig)
        .run_ok_async(args)
        .await
}
