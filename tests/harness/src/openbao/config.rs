//! The server configuration of one test node (pure: rendered from ports and paths, unit-tested).

use std::path::Path;

/// What differs between the nodes of a test cluster.
#[derive(Debug, Clone)]
pub struct NodeConfig<'a> {
    pub node_id: &'a str,
    pub data_dir: &'a Path,
    pub api_port: u16,
    pub cluster_port: u16,
    pub log_level: &'a str,
    /// `seal "static"` with this 32-byte key file: the node unseals itself on every start.
    pub static_seal_key: Option<&'a Path>,
}

impl NodeConfig<'_> {
    pub fn api_addr(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }

    /// Raft traffic between nodes always uses TLS (OpenBao's own certificates), hence https.
    pub fn cluster_addr(&self) -> String {
        format!("https://127.0.0.1:{}", self.cluster_port)
    }

    /// HCL for `bao server -config`. `performance_multiplier = 1` makes the first election take about a
    /// second instead of about ten; the short autopilot intervals let joined nodes become voters within
    /// seconds (default: 10 s reconcile). The API listener is plain HTTP on loopback.
    pub fn render(&self) -> String {
        format!(
            r#"ui = false
log_level = "{log_level}"

storage "raft" {{
  path                   = "{data_dir}"
  node_id                = "{node_id}"
  performance_multiplier = 1

  autopilot_reconcile_interval = "1s"
  autopilot_update_interval    = "1s"
}}

listener "tcp" {{
  address         = "127.0.0.1:{api_port}"
  cluster_address = "127.0.0.1:{cluster_port}"
  tls_disable     = true
}}

api_addr     = "{api_addr}"
cluster_addr = "{cluster_addr}"
{seal}"#,
            log_level = self.log_level,
            data_dir = self.data_dir.display(),
            node_id = self.node_id,
            api_port = self.api_port,
            cluster_port = self.cluster_port,
            api_addr = self.api_addr(),
            cluster_addr = self.cluster_addr(),
            seal = self.static_seal_key.map_or(String::new(), |key| format!(
                "\nseal \"static\" {{\n  current_key_id = \"k1\"\n  current_key    = \"file://{}\"\n}}\n",
                key.display()
            )),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_static_seal_names_its_key_file() {
        let config = NodeConfig {
            node_id: "node-0",
            data_dir: Path::new("/data/node-0"),
            api_port: 18200,
            cluster_port: 18201,
            log_level: "info",
            static_seal_key: Some(Path::new("/keys/seal.key")),
        };
        let hcl = config.render();
        assert!(hcl.contains(r#"seal "static" {"#), "{hcl}");
        assert!(
            hcl.contains(r#"current_key    = "file:///keys/seal.key""#),
            "{hcl}"
        );
    }

    #[test]
    fn renders_a_raft_node_on_loopback_without_tls() {
        let config = NodeConfig {
            node_id: "node-1",
            data_dir: Path::new("/data/node-1"),
            api_port: 18200,
            cluster_port: 18201,
            log_level: "debug",
            static_seal_key: None,
        };
        let hcl = config.render();
        assert!(
            hcl.contains(r#"path                   = "/data/node-1""#),
            "{hcl}"
        );
        assert!(
            hcl.contains(r#"node_id                = "node-1""#),
            "{hcl}"
        );
        assert!(hcl.contains("performance_multiplier = 1"), "{hcl}");
        assert!(
            hcl.contains(r#"autopilot_reconcile_interval = "1s""#),
            "{hcl}"
        );
        assert!(
            hcl.contains(r#"address         = "127.0.0.1:18200""#),
            "{hcl}"
        );
        assert!(
            hcl.contains(r#"cluster_address = "127.0.0.1:18201""#),
            "{hcl}"
        );
        assert!(hcl.contains("tls_disable     = true"), "{hcl}");
        assert!(
            hcl.contains(r#"api_addr     = "http://127.0.0.1:18200""#),
            "{hcl}"
        );
        assert!(
            hcl.contains(r#"cluster_addr = "https://127.0.0.1:18201""#),
            "{hcl}"
        );
        assert!(hcl.contains(r#"log_level = "debug""#), "{hcl}");
        assert!(
            !hcl.contains("dev"),
            "a test node is a real, non-dev server: {hcl}"
        );
    }
}
