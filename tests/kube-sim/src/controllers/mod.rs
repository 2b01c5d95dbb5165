//! Controllers that act on the simulator through its HTTP API (kube::Client), like real kube-controller-manager
//! and kubelet: Jobs become Pods, Pods become local processes, StatefulSets roll out.
