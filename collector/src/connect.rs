//! Finding the cluster the way kubectl does: `--kubeconfig`, then
//! `$KUBECONFIG`, then `~/.kube/config`, then the in-cluster service account.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::config::{Config, KubeConfigOptions, Kubeconfig};

/// Why no client could be built. Every variant maps to exit code 3.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Nothing to connect with.
    #[error("no kubeconfig found ($KUBECONFIG unset, {home} missing) and not running in a pod; pass --kubeconfig FILE")]
    NoKubeconfig {
        /// The default path looked at.
        home: String,
    },
    /// The kubeconfig file could not be read or parsed.
    #[error("cannot load kubeconfig {path}: {message}")]
    BadKubeconfig {
        /// File, or `$KUBECONFIG`.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// `--context` names a context the kubeconfig does not have.
    #[error("context {context:?} not found in {path} (available: {available})")]
    UnknownContext {
        /// The context asked for.
        context: String,
        /// The kubeconfig.
        path: String,
        /// Contexts that exist.
        available: String,
    },
    /// The in-cluster service account is unusable.
    #[error("cannot use the in-cluster service account: {0}")]
    InCluster(String),
    /// Building the HTTP client failed (bad certificate data and the like).
    #[error("cannot build a client for {server}: {message}")]
    Client {
        /// API server URL.
        server: String,
        /// What went wrong.
        message: String,
    },
}

/// A client plus what the manifest records about where it points.
pub struct Connection {
    /// The client.
    pub client: kube::Client,
    /// Context name (`in-cluster` for the service account).
    pub context: String,
    /// Cluster name from the kubeconfig.
    pub cluster_name: Option<String>,
    /// API server URL, for messages.
    pub server: String,
}

/// Where the kubeconfig comes from, decided without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `--kubeconfig FILE`.
    File(PathBuf),
    /// `$KUBECONFIG` (possibly several files, merged by kube).
    Env,
    /// `~/.kube/config`.
    Home(PathBuf),
    /// `KUBERNETES_SERVICE_HOST` is set: in a pod.
    InCluster,
}

/// Picks the source with kubectl's precedence. `env_kubeconfig`,
/// `home_config` (when it exists) and `in_cluster` are passed in so the
/// precedence is testable without touching the environment.
pub fn pick_source(
    flag: Option<&Path>,
    env_kubeconfig: Option<&str>,
    home_config: Option<PathBuf>,
    in_cluster: bool,
) -> Option<Source> {
    if let Some(f) = flag {
        return Some(Source::File(f.to_path_buf()));
    }
    if env_kubeconfig.is_some_and(|v| !v.is_empty()) {
        return Some(Source::Env);
    }
    if let Some(h) = home_config {
        return Some(Source::Home(h));
    }
    in_cluster.then_some(Source::InCluster)
}

fn home_kubeconfig() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".kube").join("config")
}

/// Builds a client. `request_timeout` bounds each read so a stalled
/// connection fails the step instead of hanging the run.
pub async fn connect(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
    request_timeout: Duration,
) -> Result<Connection, ConnectError> {
    let home = home_kubeconfig();
    let env = std::env::var("KUBECONFIG").ok();
    let source = pick_source(
        kubeconfig,
        env.as_deref(),
        home.exists().then(|| home.clone()),
        std::env::var_os("KUBERNETES_SERVICE_HOST").is_some(),
    )
    .ok_or_else(|| ConnectError::NoKubeconfig {
        home: home.display().to_string(),
    })?;

    let (mut config, context_name, cluster_name) = match source {
        Source::InCluster => {
            if let Some(c) = context {
                return Err(ConnectError::InCluster(format!(
                    "--context {c} given but there is no kubeconfig (running in a pod)"
                )));
            }
            let config = Config::incluster().map_err(|e| ConnectError::InCluster(e.to_string()))?;
            (config, "in-cluster".to_string(), None)
        }
        other => from_kubeconfig(&other, context).await?,
    };
    // kube's own retry layer (on by default: 15 attempts on 429/503/504,
    // Retry-After honoured up to 1000 s) would hide rejections from the
    // collector and wait far beyond --request-timeout; `fetch.rs` retries
    // with tighter bounds and records what kept failing.
    config.default_retry = false;
    config.read_timeout = Some(request_timeout);
    config.connect_timeout = Some(request_timeout.min(Duration::from_secs(10)));
    let server = config.cluster_url.to_string();
    let client = kube::Client::try_from(config).map_err(|e| ConnectError::Client {
        server: server.clone(),
        message: crate::outcome::error_chain(&e),
    })?;
    Ok(Connection {
        client,
        context: context_name,
        cluster_name,
        server,
    })
}

/// The client configuration of `context` (default: the current context)
/// in the kubeconfig `source` names, with the context's and the cluster's
/// names for the manifest.
async fn from_kubeconfig(
    source: &Source,
    context: Option<&str>,
) -> Result<(Config, String, Option<String>), ConnectError> {
    let label = match source {
        Source::File(p) | Source::Home(p) => p.display().to_string(),
        _ => "$KUBECONFIG".to_string(),
    };
    let bad = |e: kube::config::KubeconfigError| ConnectError::BadKubeconfig {
        path: label.clone(),
        message: crate::outcome::error_chain(&e),
    };
    let kc = match source {
        Source::File(p) | Source::Home(p) => Kubeconfig::read_from(p).map_err(bad)?,
        _ => Kubeconfig::read().map_err(bad)?,
    };
    let context_name = match context {
        Some(c) => c.to_string(),
        None => kc
            .current_context
            .clone()
            .ok_or_else(|| ConnectError::BadKubeconfig {
                path: label.clone(),
                message: "no current-context set; pass --context".into(),
            })?,
    };
    let named = kc.contexts.iter().find(|c| c.name == context_name);
    let Some(named) = named else {
        let available: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
        return Err(ConnectError::UnknownContext {
            context: context_name,
            path: label,
            available: if available.is_empty() {
                "none".into()
            } else {
                available.join(", ")
            },
        });
    };
    let cluster_name = named.context.as_ref().map(|c| c.cluster.clone());
    let options = KubeConfigOptions {
        context: Some(context_name.clone()),
        ..Default::default()
    };
    let config = Config::from_custom_kubeconfig(kc, &options)
        .await
        .map_err(bad)?;
    Ok((config, context_name, cluster_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_is_kubectls() {
        let flag = PathBuf::from("/tmp/kc");
        let home = Some(PathBuf::from("/home/u/.kube/config"));
        assert_eq!(
            pick_source(Some(&flag), Some("/x"), home.clone(), true),
            Some(Source::File(flag.clone()))
        );
        assert_eq!(
            pick_source(None, Some("/x:/y"), home.clone(), true),
            Some(Source::Env)
        );
        assert_eq!(
            pick_source(None, Some(""), home.clone(), true),
            Some(Source::Home(PathBuf::from("/home/u/.kube/config")))
        );
        assert_eq!(pick_source(None, None, None, true), Some(Source::InCluster));
        assert_eq!(pick_source(None, None, None, false), None);
    }

    const KUBECONFIG: &str = "apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: prod-eu
  cluster:
    server: https://10.0.0.1:6443
    insecure-skip-tls-verify: true
contexts:
- name: prod
  context:
    cluster: prod-eu
    user: admin
    namespace: shop
users:
- name: admin
  user:
    token: abc
";

    #[tokio::test]
    async fn context_and_cluster_from_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, KUBECONFIG).unwrap();
        let c = connect(Some(&path), None, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(c.context, "prod");
        assert_eq!(c.cluster_name.as_deref(), Some("prod-eu"));
        assert!(c.server.starts_with("https://10.0.0.1:6443"));
        let err = connect(Some(&path), Some("staging"), Duration::from_secs(5))
            .await
            .err()
            .unwrap();
        assert!(err.to_string().contains("available: prod"), "{err}");
        let missing = dir.path().join("nope");
        let err = connect(Some(&missing), None, Duration::from_secs(5))
            .await
            .err()
            .unwrap();
        assert!(matches!(err, ConnectError::BadKubeconfig { .. }), "{err}");
    }
}
