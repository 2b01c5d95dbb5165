//! A Kubernetes API simulator served over HTTP on loopback, plus controllers (Job runner, kubelet, StatefulSet
//! rollout) that act on it as API clients, the way real controllers do.

pub mod controllers;
