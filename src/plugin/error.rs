//! Every way a plugin command fails, each a single line for a person at a terminal (no backtrace, no debug dump).

/// A failed command. `Display` is the whole message; `main` prints it after `error: `.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("cannot load the kubeconfig: {0}")]
    Kubeconfig(String),
    #[error("cannot reach the Kubernetes API at {url}: {cause}")]
    Unreachable { url: String, cause: String },
    #[error(
        "the API server at {url} does not serve {resource} (openbao.org/v1alpha1): install the operator's CRDs (kubectl apply -k deploy/)"
    )]
    CrdMissing { url: String, resource: &'static str },
    #[error("{kind} {name:?} not found in namespace {namespace:?}")]
    NotFound {
        kind: &'static str,
        name: String,
        namespace: String,
    },
    #[error("{action}: the API answered {code} {reason}: {message}")]
    Api {
        action: String,
        code: u16,
        reason: String,
        message: String,
    },
    #[error("{action}: {cause}")]
    Request { action: String, cause: String },
    #[error("timed out after {after} waiting for {what} (last seen: {last})")]
    Timeout {
        after: String,
        what: String,
        last: String,
    },
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Failed(String),
}

impl PluginError {
    /// Classifies a client error of `action` (e.g. `reading OpenBaoCluster prod`) against the API at `url`.
    pub fn from_kube(error: kube::Error, action: &str, url: &str) -> Self {
        match error {
            kube::Error::Api(status) => Self::Api {
                action: action.to_string(),
                code: status.code,
                reason: status.reason.clone(),
                message: status.message.clone(),
            },
            kube::Error::HyperError(_) | kube::Error::Service(_) => Self::Unreachable {
                url: url.to_string(),
                cause: root_cause(&error),
            },
            other => Self::Request {
                action: action.to_string(),
                cause: root_cause(&other),
            },
        }
    }

    /// Whether the API answered 404 Not Found.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Api { code: 404, .. })
    }
}

/// The innermost cause of an error chain: "connection refused" says more than "client error (Connect)".
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut innermost: &dyn std::error::Error = error;
    while let Some(source) = innermost.source() {
        innermost = source;
    }
    let text = innermost.to_string();
    if text.is_empty() {
        error.to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_is_one_line() {
        let errors = [
            PluginError::NotFound {
                kind: "OpenBaoCluster",
                name: "nope".into(),
                namespace: "default".into(),
            },
            PluginError::CrdMissing {
                url: "https://127.0.0.1:1".into(),
                resource: "openbaoclusters",
            },
            PluginError::Timeout {
                after: "1s".into(),
                what: "backup t".into(),
                last: "queued".into(),
            },
        ];
        for error in errors {
            assert!(!error.to_string().contains('\n'), "{error}");
        }
    }

    #[test]
    fn a_refused_connection_names_the_address_and_the_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let error = PluginError::from_kube(
            kube::Error::Service(Box::new(io)),
            "reading",
            "https://127.0.0.1:9",
        );
        assert_eq!(
            error.to_string(),
            "cannot reach the Kubernetes API at https://127.0.0.1:9: connection refused"
        );
    }
}
