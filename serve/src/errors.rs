//! Errors: [`ServeError`] for starting the server, [`ApiError`] for one API
//! request.
//!
//! `ApiError` is rendered as a `metav1.Status` body with the HTTP code, reason
//! and message texts the real API server uses, because kubectl prints those
//! texts verbatim (`Error from server (NotFound): pods "x" not found`) and a
//! user comparing with a live cluster must see the same thing.

use std::net::SocketAddr;

use serde_json::{json, Value};

/// Why the server could not start. Each message is whole: an I/O cause is
/// written into it, not also returned as `source()`, so a printed chain
/// says it once.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The bundle could not be opened or its manifest read (the bundle
    /// error names the path and the cause).
    #[error(transparent)]
    Bundle(#[from] kpm_bundle::BundleError),
    /// Binding the loopback listener failed.
    #[error("cannot listen on {addr}: {cause}")]
    Bind {
        /// The address tried.
        addr: SocketAddr,
        /// The I/O error, already in the message (not a `source()`).
        cause: std::io::Error,
    },
    /// The kubeconfig could not be placed or written.
    #[error(transparent)]
    Kubeconfig(#[from] crate::kubeconfig::KubeconfigError),
    /// No random token could be read from the OS.
    #[error("cannot make an access token from /dev/urandom: {cause}")]
    Token {
        /// The I/O error, already in the message (not a `source()`).
        cause: std::io::Error,
    },
    /// The background thread that builds the field indexes could not start.
    #[error("cannot start the index thread: {cause}")]
    Thread {
        /// The I/O error, already in the message (not a `source()`).
        cause: std::io::Error,
    },
    /// The `--rbac` file could not be used.
    #[error(transparent)]
    Rbac(#[from] crate::rbac::RbacError),
    /// A `--fail` knob could not be parsed.
    #[error("invalid --fail {spec:?}: {reason}")]
    InvalidFail {
        /// The flag value.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A failed API request, rendered as a `Status` object.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status code, also `Status.code`.
    pub code: u16,
    /// `Status.reason`, e.g. `NotFound`.
    pub reason: &'static str,
    /// `Status.message`, printed by kubectl.
    pub message: String,
    /// `Status.details` (name, group, kind), when the error is about one object.
    pub details: Option<Value>,
}

/// Group/resource of a request, used to fill `Status.details` and messages.
#[derive(Debug, Clone, Copy)]
pub struct Gr<'a> {
    /// API group, empty for core.
    pub group: &'a str,
    /// Plural resource name.
    pub resource: &'a str,
}

impl Gr<'_> {
    /// `pods` or `deployments.apps`, as the API server writes a group resource.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.to_string()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }
}

/// The user the snapshot pretends to be in RBAC-style messages; it is not a
/// real identity, only a stable name for "the collector's credentials".
pub const SNAPSHOT_USER: &str = "kpm-snapshot";

impl ApiError {
    /// 404 for one object: `pods "x" not found`.
    pub fn not_found(gr: Gr<'_>, name: &str) -> ApiError {
        ApiError {
            code: 404,
            reason: "NotFound",
            message: format!("{} \"{}\" not found", gr.qualified(), name),
            details: Some(json!({"name": name, "group": gr.group, "kind": gr.resource})),
        }
    }

    /// 404 for a path the server does not serve, with the API server's text.
    pub fn no_such_resource() -> ApiError {
        ApiError {
            code: 404,
            reason: "NotFound",
            message: "the server could not find the requested resource".to_string(),
            details: None,
        }
    }

    /// 404 for a kind (or log, or metrics) the bundle does not hold: says why,
    /// because unlike a live server the answer depends on what was collected.
    pub fn not_collected(what: &str) -> ApiError {
        ApiError {
            code: 404,
            reason: "NotFound",
            message: format!("the server could not find the requested resource ({what} was not collected in this snapshot)"),
            details: None,
        }
    }

    /// 403 in the API server's RBAC wording for [`SNAPSHOT_USER`]. `verb`
    /// is `list`/`get`, `namespace` None means cluster scope.
    pub fn forbidden(
        gr: Gr<'_>,
        verb: &str,
        name: Option<&str>,
        namespace: Option<&str>,
    ) -> ApiError {
        ApiError::forbidden_as(SNAPSHOT_USER, gr, verb, name, namespace)
    }

    /// 403 for `user`, worded as kube-apiserver's `forbiddenMessage`
    /// (`k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/errors.go`)
    /// wrapped by `apierrors.NewForbidden`.
    pub fn forbidden_as(
        user: &str,
        gr: Gr<'_>,
        verb: &str,
        name: Option<&str>,
        namespace: Option<&str>,
    ) -> ApiError {
        // For a subresource (`pods/log`) the API server names the parent
        // resource as the subject and in `details.kind`, and the full
        // `resource/subresource` only as what the user may not access:
        // `pods "web-1" is forbidden: … cannot get resource "pods/log" …`.
        let parent = Gr {
            group: gr.group,
            resource: gr.resource.split('/').next().unwrap_or(gr.resource),
        };
        let subject = match name {
            Some(n) => format!("{} \"{}\"", parent.qualified(), n),
            None => parent.qualified(),
        };
        let scope = match namespace {
            Some(ns) => format!("in the namespace \"{ns}\""),
            None => "at the cluster scope".to_string(),
        };
        ApiError {
            code: 403,
            reason: "Forbidden",
            message: format!(
                "{subject} is forbidden: User \"{user}\" cannot {verb} resource \"{}\" in API group \"{}\" {scope}",
                gr.resource, gr.group
            ),
            details: Some(json!({"name": name.unwrap_or(""), "group": gr.group, "kind": parent.resource})),
        }
    }

    /// 403 for a non-resource path (`/version`, `/metrics`): no group
    /// resource, so `NewForbidden` prefixes only `forbidden: `.
    pub fn forbidden_path(user: &str, verb: &str, path: &str) -> ApiError {
        ApiError {
            code: 403,
            reason: "Forbidden",
            message: format!("forbidden: User \"{user}\" cannot {verb} path \"{path}\""),
            details: Some(json!({})),
        }
    }

    /// 400 with a message, e.g. for an ambiguous log container.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            code: 400,
            reason: "BadRequest",
            message: message.into(),
            details: None,
        }
    }

    /// 405 for any write: the snapshot is read-only.
    pub fn read_only(method: &str) -> ApiError {
        ApiError {
            code: 405,
            reason: "MethodNotAllowed",
            message: format!(
                "{method} is not allowed: this API server is a read-only snapshot served by kpm from a bundle; nothing can be changed"
            ),
            details: None,
        }
    }

    /// 410 for a `continue` token this server did not issue for this list.
    pub fn expired_continue() -> ApiError {
        ApiError {
            code: 410,
            reason: "Expired",
            message: "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.".to_string(),
            details: None,
        }
    }

    /// 500 with the API server's `Internal error occurred:` prefix.
    pub fn internal(message: impl std::fmt::Display) -> ApiError {
        ApiError {
            code: 500,
            reason: "InternalError",
            message: format!("Internal error occurred: {message}"),
            details: None,
        }
    }

    /// 504 after a held request, as the API server answers a request that
    /// ran past its deadline.
    pub fn timeout(message: impl Into<String>) -> ApiError {
        ApiError {
            code: 504,
            reason: "Timeout",
            message: message.into(),
            details: None,
        }
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let (Some(details), Some(obj)) = (&self.details, status.as_object_mut()) {
            obj.insert("details".into(), details.clone());
        }
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_matches_api_server_text() {
        let e = ApiError::not_found(
            Gr {
                group: "",
                resource: "pods",
            },
            "web-1",
        );
        assert_eq!(e.message, "pods \"web-1\" not found");
        let s = e.to_status();
        assert_eq!(s["code"], 404);
        assert_eq!(s["details"]["kind"], "pods");
        let d = ApiError::not_found(
            Gr {
                group: "apps",
                resource: "deployments",
            },
            "web",
        );
        assert_eq!(d.message, "deployments.apps \"web\" not found");
    }

    #[test]
    fn forbidden_matches_rbac_text() {
        let e = ApiError::forbidden(
            Gr {
                group: "",
                resource: "secrets",
            },
            "list",
            None,
            Some("shop"),
        );
        assert_eq!(
            e.message,
            "secrets is forbidden: User \"kpm-snapshot\" cannot list resource \"secrets\" in API group \"\" in the namespace \"shop\""
        );
        let c = ApiError::forbidden(
            Gr {
                group: "",
                resource: "nodes",
            },
            "list",
            None,
            None,
        );
        assert!(c
            .message
            .ends_with("in API group \"\" at the cluster scope"));
    }
}
