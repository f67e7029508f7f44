//! Image pull failures: `pod-image-not-found`, `pod-image-pull-auth`,
//! `pod-image-invalid`, `pod-image-pull-failed`.
//!
//! The waiting reason (`ErrImagePull`, `ImagePullBackOff`) says only that a
//! pull failed; the kubelet's `Failed` event (and the `ErrImagePull` waiting
//! message) carry the registry's answer, which tells the causes apart.
//! Authorization is checked before "not found" because registries answer an
//! unauthorized pull with `pull access denied, repository does not exist or
//! may require authorization`.

use kpm_model::{Evidence, Finding};

use super::pod::PodFacts;
use crate::command::Kubectl;
use crate::context::NamespaceCtx;
use crate::rules::registry::Rule;

/// Waiting reasons of a container whose image cannot be pulled.
const PULL_REASONS: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "RegistryUnavailable",
    "ErrImageNeverPull",
];

/// Why a pull failed, from the registry's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullCause {
    /// Tag or repository does not exist.
    NotFound,
    /// Credentials missing or rejected.
    Auth,
    /// The registry's TLS certificate is not trusted (`x509: …`).
    Tls,
    /// The reference cannot be parsed.
    Invalid,
    /// Anything else (network, timeouts, registry errors).
    Other,
}

/// The message with every double-quoted part (image references, URLs)
/// removed, so a `401` inside a digest, tag, host or repository name is not
/// read as the registry's answer.
fn without_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quoted = false;
    for c in message.chars() {
        if c == '"' {
            quoted = !quoted;
            out.push(' ');
        } else if !quoted {
            out.push(c);
        }
    }
    out
}

/// Whether `hay` holds `needle` between non-alphanumeric characters.
fn has_phrase(hay: &str, needle: &str) -> bool {
    hay.match_indices(needle).any(|(i, _)| {
        let before = hay.get(..i).and_then(|s| s.chars().next_back());
        let after = hay.get(i + needle.len()..).and_then(|s| s.chars().next());
        let edge = |c: Option<char>| c.is_none_or(|c| !c.is_ascii_alphanumeric());
        edge(before) && edge(after)
    })
}

/// Classifies a pull error message by the registry's (or the TLS layer's)
/// own words; image names, tags, digests and URLs do not count.
pub fn classify(message: &str) -> PullCause {
    let m = without_quoted(message).to_ascii_lowercase();
    if m.contains("invalid reference format") || m.contains("couldn't parse image name") {
        return PullCause::Invalid;
    }
    if has_phrase(&m, "x509") || m.contains("tls: failed to verify certificate") {
        return PullCause::Tls;
    }
    let auth = [
        "pull access denied",
        "unauthorized",
        "authorization failed",
        "authentication required",
        "401 unauthorized",
        "403 forbidden",
        "denied: requested access",
        "no basic auth credentials",
    ];
    if auth.iter().any(|a| has_phrase(&m, a)) {
        return PullCause::Auth;
    }
    let not_found = [
        "not found",
        "manifest unknown",
        "name unknown",
        "does not exist",
    ];
    if not_found.iter().any(|a| has_phrase(&m, a)) {
        return PullCause::NotFound;
    }
    PullCause::Other
}

/// The TLS failure of a message, from `x509:` on.
fn tls_part(message: &str) -> &str {
    message
        .find("x509: ")
        .or_else(|| message.find("tls: "))
        .and_then(|i| message.get(i..))
        .unwrap_or(message)
}

/// The image a `Failed to pull image "x": ...` message is about.
fn image_of(message: &str) -> Option<&str> {
    let rest = message.split_once("image \"")?.1;
    rest.split_once('"').map(|(img, _)| img)
}

/// One finding when a container of the pod cannot get its image.
pub fn check(ctx: &NamespaceCtx<'_>, facts: &PodFacts<'_>) -> Option<Finding> {
    for (cs, init) in facts.all_statuses() {
        let Some(waiting) = cs.state.as_ref().and_then(|s| s.waiting.as_ref()) else {
            continue;
        };
        let reason = waiting.reason.as_deref().unwrap_or_default();
        let image = cs.image.as_str();
        let image = if image.is_empty() {
            facts
                .container(&cs.name)
                .and_then(|c| c.image.as_deref())
                .unwrap_or_default()
        } else {
            image
        };
        if reason == "InvalidImageName" {
            return Some(finding(
                ctx,
                facts,
                &cs.name,
                init,
                image,
                reason,
                waiting.message.as_deref(),
                PullCause::Invalid,
            ));
        }
        if !PULL_REASONS.contains(&reason) {
            continue;
        }
        // The registry's answer: Failed events about this image, most recent
        // last, then the waiting message (ErrImagePull carries it too).
        let failed = facts.events_with(&["Failed"]);
        let detail = failed
            .iter()
            .rev()
            .map(|e| e.message.as_str())
            .find(|m| image_of(m).is_none_or(|i| i == image) && m.contains("pull"))
            .or(waiting
                .message
                .as_deref()
                .filter(|m| !m.starts_with("Back-off pulling image")));
        let cause = detail.map_or(PullCause::Other, classify);
        return Some(finding(
            ctx, facts, &cs.name, init, image, reason, detail, cause,
        ));
    }
    None
}

#[allow(clippy::too_many_arguments)]
fn finding(
    ctx: &NamespaceCtx<'_>,
    facts: &PodFacts<'_>,
    container: &str,
    init: bool,
    image: &str,
    reason: &str,
    detail: Option<&str>,
    cause: PullCause,
) -> Finding {
    let which = if init { "init container" } else { "container" };
    let (rule, text) = match cause {
        PullCause::NotFound => (
            Rule::PodImageNotFound,
            format!("image \"{image}\" of {which} {container} was not found in the registry: the tag or repository does not exist"),
        ),
        PullCause::Auth => (Rule::PodImagePullAuth, auth_cause(ctx, facts, image, which, container)),
        PullCause::Invalid => (
            Rule::PodImageInvalid,
            format!("image reference \"{image}\" of {which} {container} is not a valid image name (InvalidImageName)"),
        ),
        PullCause::Tls => (
            Rule::PodImagePullFailed,
            format!(
                "pulling image \"{image}\" of {which} {container} fails on the registry's TLS certificate: {}",
                detail.map(tls_part).unwrap_or_default()
            ),
        ),
        PullCause::Other => (
            Rule::PodImagePullFailed,
            match detail {
                Some(d) => format!("pulling image \"{image}\" of {which} {container} fails: {}", short(d)),
                None => format!(
                    "pulling image \"{image}\" of {which} {container} fails ({reason}); the registry's answer is not in the bundle (no Failed event)"
                ),
            },
        ),
    };
    let mut b = facts
        .finding(ctx, rule, text)
        .field(
            &facts.object,
            format!(
                "{}.state.waiting.reason",
                facts.status_path(container, init)
            ),
            reason,
        )
        .evidence_all(facts.event_evidence(&["Failed", "BackOff", "InspectFailed"]))
        .next_command(
            "See the pull errors the kubelet recorded",
            facts.describe_cmd(),
        );
    if let Some(d) = detail {
        b = b.evidence(Evidence::Note {
            text: d.to_string(),
        });
    }
    if cause == PullCause::Auth {
        b = b.next_command(
            "Check the pull secrets the pod and its ServiceAccount use",
            Kubectl::new()
                .namespace(facts.namespace)
                .args(["get", "pod"])
                .name(facts.name)
                .args([
                    "-o",
                    "jsonpath={.spec.imagePullSecrets}{\"\\n\"}{.spec.serviceAccountName}",
                ])
                .build(),
        );
    }
    b.build()
}

/// The message after the last `desc = ` (containerd's gRPC wrapping), which
/// is the registry's own words.
fn short(d: &str) -> &str {
    d.rsplit_once("desc = ").map_or(d, |(_, tail)| tail)
}

/// Names the pod's `imagePullSecrets`: none, missing ones, or present ones
/// whose credentials the registry rejects.
fn auth_cause(
    ctx: &NamespaceCtx<'_>,
    facts: &PodFacts<'_>,
    image: &str,
    which: &str,
    container: &str,
) -> String {
    let head = format!("the registry refused to serve image \"{image}\" of {which} {container} (pull access denied)");
    let secrets: Vec<String> = facts
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.image_pull_secrets.as_ref())
        .into_iter()
        .flatten()
        .map(|r| r.name.clone())
        .collect();
    if secrets.is_empty() {
        let sa = facts
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.service_account_name.as_deref())
            .unwrap_or("default");
        return format!(
            "{head}: the pod has no imagePullSecrets, so it pulls anonymously (unless ServiceAccount {sa} adds one)"
        );
    }
    let secrets_known = ctx.ns.unavailable("secrets").is_none();
    let missing: Vec<&String> = secrets.iter().filter(|s| ctx.secret(s).is_none()).collect();
    if secrets_known && !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        return format!(
            "{head}: imagePullSecrets {} does not exist in namespace {}",
            names.join(", "),
            facts.namespace
        );
    }
    format!(
        "{head}: the credentials in imagePullSecrets {} are rejected by the registry",
        secrets.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::pod::PodFacts;
    use crate::testkit::{obj, Fixture};
    use serde_json::json;

    const NOT_FOUND: &str = "Failed to pull image \"registry.example.com/shop/api:1.4.3\": rpc error: code = NotFound desc = failed to pull and unpack image \"registry.example.com/shop/api:1.4.3\": failed to resolve reference \"registry.example.com/shop/api:1.4.3\": registry.example.com/shop/api:1.4.3: not found";
    const DENIED: &str = "Failed to pull image \"registry.example.com/shop/api:1.4.3\": rpc error: code = Unknown desc = failed to pull and unpack image \"registry.example.com/shop/api:1.4.3\": failed to resolve reference \"registry.example.com/shop/api:1.4.3\": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed";
    const TIMEOUT: &str = "Failed to pull image \"registry.example.com/shop/api:1.4.3\": rpc error: code = DeadlineExceeded desc = failed to pull and unpack image \"registry.example.com/shop/api:1.4.3\": failed to resolve reference \"registry.example.com/shop/api:1.4.3\": failed to do request: Head \"https://registry.example.com/v2/shop/api/manifests/1.4.3\": dial tcp 10.20.0.5:443: i/o timeout";

    fn pull_pod(reason: &str, message: &str, pull_secrets: serde_json::Value) -> serde_json::Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "api-7c9d8f6b5-x2x7q", "namespace": "shop", "creationTimestamp": "2026-11-20T14:00:00Z"},
            "spec": {"nodeName": "worker-1", "imagePullSecrets": pull_secrets,
                     "containers": [{"name": "app", "image": "registry.example.com/shop/api:1.4.3"}]},
            "status": {"phase": "Pending",
                "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
                "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0, "started": false,
                    "image": "registry.example.com/shop/api:1.4.3", "imageID": "",
                    "state": {"waiting": {"reason": reason, "message": message}}}]}
        })
    }

    fn failed_event(message: &str) -> serde_json::Value {
        json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "api-7c9d8f6b5-x2x7q.17a1", "namespace": "shop"},
            "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "api-7c9d8f6b5-x2x7q",
                               "fieldPath": "spec.containers{app}"},
            "reason": "Failed", "message": message, "type": "Warning", "count": 4,
            "firstTimestamp": "2026-11-20T14:00:05Z", "lastTimestamp": "2026-11-20T14:30:00Z",
            "source": {"component": "kubelet", "host": "worker-1"}
        })
    }

    fn run_one(
        pod: serde_json::Value,
        events: Vec<serde_json::Value>,
        secrets: Vec<serde_json::Value>,
    ) -> Option<Finding> {
        let mut fx = Fixture::new("shop");
        fx.ns.pods = vec![obj(pod)];
        fx.ns.events = events.into_iter().map(obj).collect();
        fx.ns.secrets = secrets.into_iter().map(obj).collect();
        let ctx = fx.ctx();
        let pod = ctx.ns.pods.first()?;
        let facts = PodFacts::new(&ctx, pod);
        check(&ctx, &facts)
    }

    #[test]
    fn classification_prefers_auth_over_not_found() {
        assert_eq!(classify(DENIED), PullCause::Auth);
        assert_eq!(classify(NOT_FOUND), PullCause::NotFound);
        assert_eq!(classify(TIMEOUT), PullCause::Other);
        assert_eq!(
            classify("Failed to apply default image tag \"Shop/API\": couldn't parse image name \"Shop/API\": invalid reference format: repository name must be lowercase"),
            PullCause::Invalid
        );
    }

    #[test]
    fn auth_only_from_the_registry_answer_never_from_names_or_digests() {
        // containerd's token fetch refused: an HTTP status, the registry's answer.
        let refused = "Failed to pull image \"registry.example.com/shop/api:1.4.3\": rpc error: code = Unknown desc = failed to pull and unpack image \"registry.example.com/shop/api:1.4.3\": failed to resolve reference \"registry.example.com/shop/api:1.4.3\": failed to authorize: failed to fetch anonymous token: unexpected status: 401 Unauthorized";
        assert_eq!(classify(refused), PullCause::Auth);
        assert_eq!(
            classify("Failed to pull image \"ghcr.io/acme/api:2.0\": rpc error: code = Unknown desc = failed to pull and unpack image \"ghcr.io/acme/api:2.0\": failed to resolve reference \"ghcr.io/acme/api:2.0\": unexpected status from HEAD request to https://ghcr.io/v2/acme/api/manifests/2.0: 403 Forbidden"),
            PullCause::Auth
        );
        // 401 inside a digest, a tag, a host and a repository name.
        let digest = "Failed to pull image \"registry.example.com/shop/api@sha256:4011e2c5b6a3401d0f9e8c7b6a5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d\": rpc error: code = NotFound desc = failed to pull and unpack image \"registry.example.com/shop/api@sha256:4011e2c5b6a3401d0f9e8c7b6a5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d\": failed to resolve reference \"registry.example.com/shop/api@sha256:4011e2c5b6a3401d0f9e8c7b6a5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d\": registry.example.com/shop/api@sha256:4011e2c5b6a3401d0f9e8c7b6a5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d: not found";
        assert_eq!(classify(digest), PullCause::NotFound);
        let names = "Failed to pull image \"registry401.example.com:5000/unauthorized-app:v401\": rpc error: code = DeadlineExceeded desc = failed to pull and unpack image \"registry401.example.com:5000/unauthorized-app:v401\": failed to resolve reference \"registry401.example.com:5000/unauthorized-app:v401\": failed to do request: Head \"https://registry401.example.com:5000/v2/unauthorized-app/manifests/v401\": dial tcp 10.20.0.5:5000: i/o timeout";
        assert_eq!(classify(names), PullCause::Other);
    }

    #[test]
    fn x509_is_its_own_cause_and_is_quoted() {
        let unknown_ca = "Failed to pull image \"registry.internal.example.com/shop/api:1.4.3\": rpc error: code = Unknown desc = failed to pull and unpack image \"registry.internal.example.com/shop/api:1.4.3\": failed to resolve reference \"registry.internal.example.com/shop/api:1.4.3\": failed to do request: Head \"https://registry.internal.example.com/v2/shop/api/manifests/1.4.3\": tls: failed to verify certificate: x509: certificate signed by unknown authority";
        assert_eq!(classify(unknown_ca), PullCause::Tls);
        let pod = pull_pod("ErrImagePull", unknown_ca, json!([]));
        let f = run_one(pod, vec![], vec![]).unwrap();
        assert_eq!(f.rule, Rule::PodImagePullFailed.id());
        assert!(
            f.cause.ends_with("fails on the registry's TLS certificate: x509: certificate signed by unknown authority"),
            "{}",
            f.cause
        );
    }

    #[test]
    fn not_found_from_failed_event_behind_backoff() {
        let pod = pull_pod(
            "ImagePullBackOff",
            "Back-off pulling image \"registry.example.com/shop/api:1.4.3\"",
            json!([]),
        );
        let f = run_one(pod, vec![failed_event(NOT_FOUND)], vec![]).unwrap();
        assert_eq!(f.rule, Rule::PodImageNotFound.id());
        assert_eq!(f.id, "pod-image-not-found:Pod/shop/api-7c9d8f6b5-x2x7q");
        assert_eq!(f.symptom, "ImagePullBackOff");
        assert!(f.cause.contains("registry.example.com/shop/api:1.4.3"));
    }

    #[test]
    fn auth_names_missing_pull_secret() {
        let pod = pull_pod("ErrImagePull", DENIED, json!([{"name": "regcred"}]));
        let f = run_one(pod, vec![], vec![]).unwrap();
        assert_eq!(f.rule, Rule::PodImagePullAuth.id());
        assert!(f.cause.contains("regcred does not exist"), "{}", f.cause);
    }

    #[test]
    fn auth_without_pull_secrets_says_so() {
        let pod = pull_pod("ErrImagePull", DENIED, json!([]));
        let f = run_one(pod, vec![], vec![]).unwrap();
        assert!(f.cause.contains("no imagePullSecrets"), "{}", f.cause);
    }

    #[test]
    fn auth_with_present_secret_blames_credentials() {
        let pod = pull_pod("ErrImagePull", DENIED, json!([{"name": "regcred"}]));
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                            "metadata": {"name": "regcred", "namespace": "shop"}, "data": {".dockerconfigjson": ""}});
        let f = run_one(pod, vec![], vec![secret]).unwrap();
        assert!(
            f.cause.contains("credentials in imagePullSecrets regcred"),
            "{}",
            f.cause
        );
    }

    #[test]
    fn invalid_image_name_and_timeout() {
        let pod = pull_pod("InvalidImageName", "Failed to apply default image tag \"registry.example.com/Shop/api:1.4.3\": couldn't parse image name \"registry.example.com/Shop/api:1.4.3\": invalid reference format: repository name must be lowercase", json!([]));
        assert_eq!(
            run_one(pod, vec![], vec![]).unwrap().rule,
            Rule::PodImageInvalid.id()
        );
        let pod = pull_pod("ErrImagePull", TIMEOUT, json!([]));
        let f = run_one(pod, vec![], vec![]).unwrap();
        assert_eq!(f.rule, Rule::PodImagePullFailed.id());
        assert!(f.cause.contains("i/o timeout"), "{}", f.cause);
    }

    #[test]
    fn running_pod_has_no_pull_finding() {
        let mut pod = pull_pod("ErrImagePull", TIMEOUT, json!([]));
        pod["status"]["containerStatuses"][0]["state"] =
            json!({"running": {"startedAt": "2026-11-20T14:01:00Z"}});
        assert!(run_one(pod, vec![failed_event(TIMEOUT)], vec![]).is_none());
    }
}
