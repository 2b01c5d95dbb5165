//! The local sandbox: the operator against the Kubernetes API simulator, OpenBao as a StatefulSet of real `bao`
//! Pods (a raft cluster) and an S3 store on 127.0.0.1. The `sandbox` binary runs it; the library parts are shared with its tests.

pub mod environment;
pub mod instructions;
pub mod manifests;
pub mod settings;
