//! Container paths → host paths. A Pod's process runs on the host, so every path the Pod spec names inside the
//! container (volume mounts, the termination-message file, the working directory) is rewritten to where the kubelet
//! materialized it. Product code then reads `/var/run/secrets/...` without knowing it runs in a test.

use std::path::PathBuf;

#[derive(Clone, Debug, Default)]
pub struct PathRewriter {
    /// (container path without trailing slash, host path), longest container path first.
    mappings: Vec<(String, PathBuf)>,
}

impl PathRewriter {
    pub fn add(&mut self, container_path: &str, host_path: impl Into<PathBuf>) {
        let container_path = match container_path.trim_end_matches('/') {
            "" => "/",
            trimmed => trimmed,
        };
        self.mappings
            .push((container_path.to_string(), host_path.into()));
        self.mappings
            .sort_by_key(|(container, _)| std::cmp::Reverse(container.len()));
    }

    /// The host path for a container path that lies at or below a mapping, matching whole path components.
    pub fn host_path(&self, container_path: &str) -> Option<PathBuf> {
        self.mappings.iter().find_map(|(container, host)| {
            let rest = container_path.strip_prefix(container.as_str())?;
            if rest.is_empty() {
                Some(host.clone())
            } else if let Some(relative) = rest.strip_prefix('/') {
                Some(host.join(relative))
            } else if container == "/" {
                Some(host.join(rest))
            } else {
                None
            }
        })
    }

    /// Rewrites a value that is a container path, or a `--flag=<container path>` argument; leaves anything else.
    pub fn rewrite(&self, value: &str) -> String {
        if let Some(host) = self.host_path(value) {
            return host.display().to_string();
        }
        if let Some((flag, path)) = value.split_once('=')
            && flag.starts_with('-')
            && let Some(host) = self.host_path(path)
        {
            return format!("{flag}={}", host.display());
        }
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewriter() -> PathRewriter {
        let mut rewriter = PathRewriter::default();
        rewriter.add("/var/run/secrets/tokens", "/pods/p/volumes/token");
        rewriter.add("/var/run/secrets/tokens/nested/", "/pods/p/volumes/nested");
        rewriter.add("/dev/termination-log", "/pods/p/termination-log/main");
        rewriter
    }

    #[test]
    fn rewrites_paths_at_and_below_a_mount() {
        let rewriter = rewriter();
        assert_eq!(
            rewriter.rewrite("/var/run/secrets/tokens"),
            "/pods/p/volumes/token"
        );
        assert_eq!(
            rewriter.rewrite("/var/run/secrets/tokens/openbao"),
            "/pods/p/volumes/token/openbao"
        );
        assert_eq!(
            rewriter.rewrite("/dev/termination-log"),
            "/pods/p/termination-log/main"
        );
    }

    #[test]
    fn the_longest_mount_wins() {
        assert_eq!(
            rewriter().rewrite("/var/run/secrets/tokens/nested/x"),
            "/pods/p/volumes/nested/x"
        );
    }

    #[test]
    fn matches_whole_components_only() {
        let rewriter = rewriter();
        assert_eq!(
            rewriter.rewrite("/var/run/secrets/tokens-old/x"),
            "/var/run/secrets/tokens-old/x"
        );
        assert_eq!(
            rewriter.rewrite("/dev/termination-log2"),
            "/dev/termination-log2"
        );
        assert_eq!(
            rewriter.rewrite("relative/var/run/secrets/tokens"),
            "relative/var/run/secrets/tokens"
        );
    }

    #[test]
    fn rewrites_flag_values() {
        let rewriter = rewriter();
        assert_eq!(
            rewriter.rewrite("--token-file=/var/run/secrets/tokens/openbao"),
            "--token-file=/pods/p/volumes/token/openbao"
        );
        assert_eq!(rewriter.rewrite("--mode=/elsewhere"), "--mode=/elsewhere");
        assert_eq!(
            rewriter.rewrite("KEY=/var/run/secrets/tokens"),
            "KEY=/var/run/secrets/tokens"
        );
    }
}
