//! Finds the install manifests under `deploy/` and reads each YAML document into a plain JSON value, keeping the
//! file it came from for error messages.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

/// Subdirectories of `deploy/` that colleagues generate and test on their own (CRDs, samples).
/// `monitoring/` is installed on its own and checked by `tests/monitoring_rules.rs`.
const SEPARATELY_TESTED_DIRS: [&str; 3] = ["crds", "samples", "monitoring"];

pub const KUSTOMIZATION_FILE: &str = "kustomization.yaml";

pub struct ManifestDocument {
    /// Path relative to `deploy/`, with `/` separators, as kustomization.yaml spells it.
    pub file: String,
    pub value: Value,
}

impl ManifestDocument {
    pub fn describe(&self) -> String {
        let field = |name: &str| {
            self.value
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_owned()
        };
        let name = self
            .value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("?");
        format!(
            "{} {}/{} ({})",
            field("apiVersion"),
            field("kind"),
            name,
            self.file
        )
    }
}

pub fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

/// Every `.yaml`/`.yml` file under `deploy/`, recursively, except kustomization.yaml and the separately tested
/// subdirectories; paths relative to `deploy/`, sorted.
pub fn discover_manifest_files(deploy: &Path) -> Vec<String> {
    let mut found = Vec::new();
    collect_yaml_files(deploy, deploy, &mut found);
    found.retain(|relative| {
        let first_component = relative.split('/').next().unwrap_or_default();
        relative != KUSTOMIZATION_FILE && !SEPARATELY_TESTED_DIRS.contains(&first_component)
    });
    found.sort();
    found
}

fn collect_yaml_files(root: &Path, dir: &Path, found: &mut Vec<String>) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            collect_yaml_files(root, &path, found);
        } else if matches!(
            path.extension().and_then(|ext| ext.to_str()),
            Some("yaml" | "yml")
        ) {
            let relative = path
                .strip_prefix(root)
                .expect("path under the deploy directory");
            let components: Vec<_> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect();
            found.push(components.join("/"));
        }
    }
}

/// Every non-empty YAML document of `text`, as JSON. A document holding only comments is skipped.
pub fn parse_documents(text: &str) -> Result<Vec<Value>, serde_norway::Error> {
    let mut documents = Vec::new();
    for document in serde_norway::Deserializer::from_str(text) {
        let value = Value::deserialize(document)?;
        if !value.is_null() {
            documents.push(value);
        }
    }
    Ok(documents)
}

pub fn read_documents(deploy: &Path, file: &str) -> Vec<ManifestDocument> {
    let path = deploy.join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    parse_documents(&text)
        .unwrap_or_else(|error| panic!("{file} is not valid YAML: {error}"))
        .into_iter()
        .map(|value| ManifestDocument {
            file: file.to_owned(),
            value,
        })
        .collect()
}

/// All documents of all discovered manifest files.
pub fn load_install_documents() -> Vec<ManifestDocument> {
    let deploy = deploy_dir();
    discover_manifest_files(&deploy)
        .iter()
        .flat_map(|file| read_documents(&deploy, file))
        .collect()
}
