//! How a failed request becomes a manifest step outcome, and which failures
//! mean the whole run cannot go on (no connection, rejected credentials).

use kpm_bundle::Outcome;

/// One failed request, as recorded in the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Outcome of the step.
    pub outcome: Outcome,
    /// HTTP status when the server answered.
    pub http_status: Option<u16>,
    /// One-line explanation (the server's `Status.message` when there is one).
    pub message: String,
    /// What kind of failure this is for the run as a whole.
    pub class: FailureClass,
}

/// Whether a failure concerns one step or the connection itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// This request failed; others may still work (403, 404, 5xx, timeout).
    Step,
    /// The server could not be reached (DNS, refused, reset).
    Unreachable,
    /// The server rejected the credentials (401, or the credential plugin
    /// failed): every other request will fail the same way.
    Unauthenticated,
    /// The TLS handshake failed (unknown CA, wrong server name, bad client
    /// certificate).
    Tls,
}

impl Failure {
    /// A per-request timeout.
    pub fn timeout(after: std::time::Duration) -> Failure {
        Failure {
            outcome: Outcome::Timeout,
            http_status: None,
            message: format!(
                "no answer within {}s (--request-timeout)",
                after.as_secs_f64()
            ),
            class: FailureClass::Step,
        }
    }

    /// The body of a 2xx answer could not be understood.
    pub fn malformed(what: &str, err: &serde_json::Error) -> Failure {
        Failure {
            outcome: Outcome::Error,
            http_status: None,
            message: format!("malformed {what} answer: {err}"),
            class: FailureClass::Step,
        }
    }
}

/// Outcome for an HTTP status code of an error answer.
pub fn outcome_for_status(code: u16) -> Outcome {
    match code {
        403 => Outcome::Forbidden,
        404 => Outcome::NotFound,
        408 | 504 => Outcome::Timeout,
        _ => Outcome::Error,
    }
}

/// Classifies a kube client error.
pub fn classify(err: &kube::Error) -> Failure {
    match err {
        kube::Error::Api(status) => {
            let code = status.code;
            let message = if status.message.is_empty() {
                format!("HTTP {code} {}", status.reason)
            } else {
                status.message.clone()
            };
            Failure {
                outcome: outcome_for_status(code),
                http_status: (code != 0).then_some(code),
                message: one_line(&message),
                class: if code == 401 {
                    FailureClass::Unauthenticated
                } else {
                    FailureClass::Step
                },
            }
        }
        kube::Error::Auth(e) => Failure {
            outcome: Outcome::Error,
            http_status: None,
            message: one_line(&format!("credentials unusable: {e}")),
            class: FailureClass::Unauthenticated,
        },
        kube::Error::SerdeError(e) => Failure::malformed("JSON", e),
        other => {
            let chain = error_chain(other);
            Failure {
                outcome: if looks_like_timeout(&chain) {
                    Outcome::Timeout
                } else {
                    Outcome::Error
                },
                http_status: None,
                class: transport_class(&chain),
                message: one_line(&chain),
            }
        }
    }
}

/// Renders an error with all its sources: hyper and rustls put the useful
/// part ("connection refused", "UnknownIssuer") several levels deep.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

fn looks_like_timeout(chain: &str) -> bool {
    let lower = chain.to_ascii_lowercase();
    lower.contains("timed out") || lower.contains("timeout") || lower.contains("deadline")
}

/// Tells a TLS failure from an unreachable server from any other transport
/// error by the text of the error chain (hyper-util wraps both as opaque
/// connector errors).
pub fn transport_class(chain: &str) -> FailureClass {
    let lower = chain.to_ascii_lowercase();
    if [
        "certificate",
        "tls",
        "handshake",
        "unknownissuer",
        "invalid peer",
        "notvalidforname",
        // rustls: a non-TLS server (plain HTTP) answering a TLS client.
        "corrupt message",
        "invalidcontenttype",
        "peer misbehaved",
        "received fatal alert",
    ]
    .iter()
    .any(|k| lower.contains(k))
    {
        FailureClass::Tls
    } else if [
        "connection refused",
        "dns error",
        "failed to lookup",
        "no route to host",
        "network is unreachable",
        "client error (connect)",
        "tcp connect error",
        "connection reset",
        "broken pipe",
    ]
    .iter()
    .any(|k| lower.contains(k))
    {
        FailureClass::Unreachable
    } else {
        FailureClass::Step
    }
}

/// Collapses whitespace so a message fits on one summary line.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn api(code: u16, reason: &str, message: &str) -> kube::Error {
        kube::Error::Api(Status::failure(message, reason).with_code(code).boxed())
    }

    #[test]
    fn forbidden_list_is_a_step_failure() {
        // The message the API server writes for an RBAC denial.
        let e = api(
            403,
            "Forbidden",
            "secrets is forbidden: User \"system:serviceaccount:kpm:kpm-collector\" cannot list resource \"secrets\" in API group \"\" in the namespace \"shop\"",
        );
        let f = classify(&e);
        assert_eq!(f.outcome, Outcome::Forbidden);
        assert_eq!(f.http_status, Some(403));
        assert_eq!(f.class, FailureClass::Step);
        assert!(f.message.starts_with("secrets is forbidden"));
    }

    #[test]
    fn not_found_and_server_errors() {
        let f = classify(&api(
            404,
            "NotFound",
            "the server could not find the requested resource",
        ));
        assert_eq!((f.outcome, f.http_status), (Outcome::NotFound, Some(404)));
        let f = classify(&api(
            503,
            "ServiceUnavailable",
            "the server is currently unable to handle the request",
        ));
        assert_eq!((f.outcome, f.class), (Outcome::Error, FailureClass::Step));
        let f = classify(&api(504, "Timeout", "Timeout: request did not complete within requested timeout - context deadline exceeded"));
        assert_eq!(f.outcome, Outcome::Timeout);
    }

    #[test]
    fn unauthorized_stops_the_run() {
        let f = classify(&api(401, "Unauthorized", "Unauthorized"));
        assert_eq!(f.class, FailureClass::Unauthenticated);
        assert_eq!(f.http_status, Some(401));
    }

    #[test]
    fn empty_status_message_falls_back_to_code() {
        let f = classify(&api(500, "InternalError", ""));
        assert_eq!(f.message, "HTTP 500 InternalError");
    }

    #[test]
    fn transport_errors_by_text() {
        assert_eq!(
            transport_class("ServiceError: client error (Connect): tcp connect error: Connection refused (os error 111)"),
            FailureClass::Unreachable
        );
        assert_eq!(
            transport_class(
                "ServiceError: client error (Connect): invalid peer certificate: UnknownIssuer"
            ),
            FailureClass::Tls
        );
        assert_eq!(
            transport_class("HyperError: error reading a body from connection"),
            FailureClass::Step
        );
        let e = kube::Error::Service(Box::new(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "operation timed out",
        )));
        assert_eq!(classify(&e).outcome, Outcome::Timeout);
    }

    #[test]
    fn messages_are_one_line() {
        assert_eq!(one_line("a\n  b\tc "), "a b c");
    }
}
