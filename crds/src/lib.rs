//! OpenBaoCluster and OpenBaoRestore API types.
