//! Authorization of a request: its RBAC attributes, checked against the
//! `--rbac` knob, and the one write the server accepts, `POST
//! /apis/authorization.k8s.io/v1/selfsubjectrulesreviews` (what
//! `kubectl auth can-i --list` and `kpm-collect --dry-run` send). The review
//! stores nothing: it answers the caller's rules for the namespace asked,
//! from `--rbac FILE`, or everything allowed without it (the snapshot's
//! reader may read all it holds).

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use serde_json::{json, Value};

use crate::errors::ApiError;
use crate::knobs::Knobs;
use crate::rbac::{Attributes, Rbac};
use crate::routes::{Reply, Route};

/// Path of the rules review (after the token prefix).
pub const RULES_REVIEW_PATH: &str = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews";

/// Largest review body read (a review is a few hundred bytes).
pub const MAX_REVIEW_BODY: usize = 64 * 1024;

/// Whether `path` is the rules review.
pub fn is_rules_review(path: &str) -> bool {
    path.trim_end_matches('/') == RULES_REVIEW_PATH
}

/// The RBAC attributes of a read: `verb` is `get`, `list` or `watch`.
pub fn attributes<'a>(route: &'a Route, verb: &'a str, path: &'a str) -> Attributes<'a> {
    match route {
        Route::Static(_) => Attributes::NonResource { verb: "get", path },
        Route::Resource {
            group,
            plural,
            namespace,
            name,
            subresource,
            ..
        } => Attributes::Resource {
            verb,
            group,
            resource: plural,
            subresource: subresource.as_deref(),
            namespace: namespace.as_deref(),
            name: name.as_deref(),
        },
    }
}

/// `None` when the knobs allow `attrs`, else the 403 to answer.
pub fn forbidden(knobs: &Knobs, attrs: &Attributes<'_>) -> Option<ApiError> {
    knobs.rbac.as_ref().and_then(|r| r.check(attrs))
}

/// Answers a `SelfSubjectRulesReview` whose body is `body`.
pub async fn rules_review<B>(knobs: &Knobs, body: B) -> Reply
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let attrs = Attributes::Resource {
        verb: "create",
        group: "authorization.k8s.io",
        resource: "selfsubjectrulesreviews",
        subresource: None,
        namespace: None,
        name: None,
    };
    if let Some(err) = forbidden(knobs, &attrs) {
        return Reply::error(&err);
    }
    let bytes = match Limited::new(body, MAX_REVIEW_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            return Reply::error(&ApiError::bad_request(format!(
                "cannot read the SelfSubjectRulesReview body (at most {MAX_REVIEW_BODY} bytes): {e}"
            )))
        }
    };
    match review_answer(knobs.rbac.as_deref(), &bytes) {
        Ok(v) => Reply::json(201, &v),
        Err(e) => Reply::error(&e),
    }
}

/// The created review for a request body.
pub fn review_answer(rbac: Option<&Rbac>, body: &[u8]) -> Result<Value, ApiError> {
    let asked: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not JSON: {e}")))?;
    let kind = asked.get("kind").and_then(Value::as_str);
    if kind.is_some_and(|k| k != "SelfSubjectRulesReview") {
        return Err(ApiError::bad_request(format!(
            "expected a SelfSubjectRulesReview, got kind {kind:?}"
        )));
    }
    let namespace = asked
        .pointer("/spec/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    if namespace.is_empty() {
        // pkg/registry/authorization/selfsubjectrulesreview/rest.go
        return Err(ApiError::bad_request("no namespace on request"));
    }
    let status = match rbac {
        Some(r) => r.rules_review(namespace),
        None => Rbac::all_allowed_review(),
    };
    Ok(json!({
        "kind": "SelfSubjectRulesReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": null},
        "spec": {"namespace": namespace},
        "status": status,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn review_without_rbac_allows_everything() {
        let body = br#"{"kind":"SelfSubjectRulesReview","apiVersion":"authorization.k8s.io/v1","spec":{"namespace":"shop"}}"#;
        let v = review_answer(None, body).unwrap();
        assert_eq!(v["spec"]["namespace"], "shop");
        assert_eq!(v["status"]["resourceRules"][0]["verbs"][0], "*");
        assert_eq!(
            v["status"]["nonResourceRules"][0]["nonResourceURLs"][0],
            "*"
        );
    }

    #[test]
    fn review_answers_the_rbac_rules_and_refuses_other_kinds() {
        let rbac = Rbac::parse(
            "kind: Role\nmetadata: {name: r, namespace: shop}\nrules: [{apiGroups: [''], resources: [pods], verbs: [list]}]\n",
        )
        .unwrap();
        let v = review_answer(Some(&rbac), br#"{"spec":{"namespace":"shop"}}"#).unwrap();
        assert_eq!(v["status"]["resourceRules"][0]["resources"][0], "pods");
        let other = review_answer(Some(&rbac), br#"{"spec":{"namespace":"web"}}"#).unwrap();
        assert!(other["status"]["resourceRules"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["resources"][0] != "pods"));
        let e = review_answer(None, br#"{"kind":"SubjectAccessReview"}"#).unwrap_err();
        assert_eq!(e.code, 400);
        assert!(review_answer(None, b"not json").is_err());
        let e = review_answer(None, br#"{"spec":{}}"#).unwrap_err();
        assert_eq!(e.message, "no namespace on request");
        assert!(is_rules_review(
            "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews/"
        ));
    }
}
