//! A client the way kubectl builds one: `--kubeconfig` (else `$KUBECONFIG`, else `~/.kube/config`, else the
//! in-cluster ServiceAccount), `--context`, and the namespace from `-n`, the context, or `default`.

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use super::cli::GlobalArgs;
use super::error::PluginError;

/// Which namespaces a command looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Namespace(String),
    All,
}

/// A connected client with the namespace the user meant.
pub struct Context {
    pub client: Client,
    pub scope: Scope,
    /// The API server address, for error messages.
    pub url: String,
}

impl Context {
    pub async fn connect(args: &GlobalArgs) -> Result<Self, PluginError> {
        let config = load_config(args).await?;
        let url = config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_string();
        let scope = if args.all_namespaces {
            Scope::All
        } else {
            Scope::Namespace(
                args.namespace
                    .clone()
                    .unwrap_or_else(|| config.default_namespace.clone()),
            )
        };
        let client = Client::try_from(config)
            .map_err(|error| PluginError::from_kube(error, "building the client", &url))?;
        Ok(Self { client, scope, url })
    }

    /// The one namespace a command about a named cluster works in; `-A` makes no sense there.
    pub fn namespace(&self) -> Result<&str, PluginError> {
        match &self.scope {
            Scope::Namespace(namespace) => Ok(namespace),
            Scope::All => Err(PluginError::Usage(
                "--all-namespaces works with `status` without a cluster name only; use -n NAMESPACE".into(),
            )),
        }
    }

    /// Classifies a client error against this API server.
    pub fn error(&self, error: kube::Error, action: &str) -> PluginError {
        PluginError::from_kube(error, action, &self.url)
    }
}

async fn load_config(args: &GlobalArgs) -> Result<Config, PluginError> {
    let options = KubeConfigOptions {
        context: args.context.clone(),
        ..KubeConfigOptions::default()
    };
    let loaded = match &args.kubeconfig {
        Some(path) => {
            let kubeconfig = Kubeconfig::read_from(path)
                .map_err(|error| PluginError::Kubeconfig(format!("{}: {error}", path.display())))?;
            Config::from_custom_kubeconfig(kubeconfig, &options).await
        }
        None => match Config::from_kubeconfig(&options).await {
            Ok(config) => Ok(config),
            // No kubeconfig at all: inside a Pod, use its ServiceAccount as kubectl does.
            Err(error) if args.context.is_none() => match Config::incluster() {
                Ok(config) => return Ok(config),
                Err(_) => Err(error),
            },
            Err(error) => Err(error),
        },
    };
    loaded.map_err(|error| PluginError::Kubeconfig(error.to_string().replace('\n', " ")))
}
