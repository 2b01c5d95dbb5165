//! A Kubernetes API simulator served over HTTP on loopback, plus controllers (Job runner, kubelet, StatefulSet
//! rollout) that act on it as API clients, the way real controllers do.
//!
//! Start one with [`Sim::builder`]; see `docs/kube-sim.md` for what it simulates.

pub mod api;
pub mod auth;
pub mod controllers;
pub mod crd;
pub mod discovery;
pub mod faults;
pub mod openapi;
pub mod patch;
pub mod protobuf;
pub mod requests;
pub mod server;
pub mod sim;

pub use faults::Verb;
pub use requests::{RecordedRequest, RequestFilter, WriteRequest};
pub use sim::{Sim, SimBuilder, SimError};
