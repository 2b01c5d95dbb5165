//! The operator binary as its own process (the harness's guarded launcher), with the settings every operator
//! test shares: this test namespace, the test executor image, a 4 s Lease and debug logs of our crates.

use std::ops::{Deref, DerefMut};
use std::path::Path;

use openbao_test_harness::operator::{OperatorLaunch, OperatorProcess};
use openbao_test_harness::ports::free_port;

use super::{EXECUTOR_IMAGE, NAMESPACE};

pub struct Operator(OperatorProcess);

impl Operator {
    /// Starts `openbao-operator run` with its own metrics port; the pod name is unique per process.
    pub fn start(kubeconfig: &Path, log: &Path) -> Self {
        let pod_name = format!("operator-{}", free_port().expect("a free port"));
        Self::start_as(kubeconfig, log, &pod_name)
    }

    /// Starts with a chosen leader-election identity: a container restarted in the same Pod keeps its name.
    pub fn start_as(kubeconfig: &Path, log: &Path, pod_name: &str) -> Self {
        let launch = OperatorLaunch {
            namespace: NAMESPACE.into(),
            pod_name: pod_name.into(),
            executor_image: EXECUTOR_IMAGE.into(),
            log_filter: "info,openbao_operator=debug,openbao_actors=debug".into(),
            extra_args: vec!["--lease-duration-seconds".into(), "4".into()],
            ..OperatorLaunch::new(
                Path::new(env!("CARGO_BIN_EXE_openbao-operator")),
                kubeconfig,
                log,
            )
        };
        Self(launch.start().expect("the operator binary starts"))
    }
}

impl Deref for Operator {
    type Target = OperatorProcess;

    fn deref(&self) -> &OperatorProcess {
        &self.0
    }
}

impl DerefMut for Operator {
    fn deref_mut(&mut self) -> &mut OperatorProcess {
        &mut self.0
    }
}
