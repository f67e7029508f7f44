//! Authorization of a request: its RBAC attributes, checked against the
//! `--rbac` knob, and the only writes the server accepts, `POST
//! /apis/authorization.k8s.io/v1/selfsubjectaccessreviews` (`kubectl auth
//! can-i`) and `.../selfsubjectrulesreviews` (`kubectl auth can-i --list`,
//! `kpm-collect --dry-run`), in JSON or protobuf ([`crate::wire`]). The
//! reviews store nothing: they answer what the snapshot serves
//! ([`crate::access`]), narrowed by `--rbac FILE` when that knob is set.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use serde_json::{json, Value};

use crate::access;
use crate::errors::ApiError;
use crate::knobs::Knobs;
use crate::rbac::Attributes;
use crate::routes::{Reply, Route, State};
use crate::wire;

/// Path of the rules review (after the token prefix).
pub const RULES_REVIEW_PATH: &str = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews";

/// Largest review body read (a review is a few hundred bytes).
pub const MAX_REVIEW_BODY: usize = 64 * 1024;

/// Path of the access review (after the token prefix).
pub const ACCESS_REVIEW_PATH: &str = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";

/// Whether `path` is the rules review.
pub fn is_rules_review(path: &str) -> bool {
    path.trim_end_matches('/') == RULES_REVIEW_PATH
}

/// Whether `path` is either review: the only writes serve accepts.
pub fn is_review(path: &str) -> bool {
    is_rules_review(path) || path.trim_end_matches('/') == ACCESS_REVIEW_PATH
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

/// Answers a review (`SelfSubjectAccessReview` or `SelfSubjectRulesReview`,
/// by `path`) whose body, JSON or protobuf by `content_type`, is `body`.
pub async fn create<B>(state: &State, path: &str, content_type: Option<&str>, body: B) -> Reply
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let resource = if is_rules_review(path) {
        "selfsubjectrulesreviews"
    } else {
        "selfsubjectaccessreviews"
    };
    let attrs = Attributes::Resource {
        verb: "create",
        group: "authorization.k8s.io",
        resource,
        subresource: None,
        namespace: None,
        name: None,
    };
    if let Some(err) = forbidden(&state.knobs, &attrs) {
        return Reply::error(&err);
    }
    let bytes = match Limited::new(body, MAX_REVIEW_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            return Reply::error(&ApiError::bad_request(format!(
                "cannot read the review body (at most {MAX_REVIEW_BODY} bytes): {e}"
            )))
        }
    };
    let answer = wire::decode_body(content_type, &bytes).and_then(|asked| {
        if is_rules_review(path) {
            review_answer(state, &asked)
        } else {
            access_answer(state, &asked)
        }
    });
    match answer {
        Ok(v) => Reply::json(201, &v),
        Err(e) => Reply::error(&e),
    }
}

fn expect_kind(asked: &Value, want: &str) -> Result<(), ApiError> {
    let kind = asked.get("kind").and_then(Value::as_str);
    if kind.is_some_and(|k| k != want) {
        return Err(ApiError::bad_request(format!(
            "expected a {want}, got kind {kind:?}"
        )));
    }
    Ok(())
}

/// The created `SelfSubjectRulesReview` for a request: the `--rbac` rules
/// when that knob is set, else what the snapshot serves ([`access::rules`]).
pub fn review_answer(state: &State, asked: &Value) -> Result<Value, ApiError> {
    expect_kind(asked, "SelfSubjectRulesReview")?;
    let namespace = asked
        .pointer("/spec/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    if namespace.is_empty() {
        // pkg/registry/authorization/selfsubjectrulesreview/rest.go
        return Err(ApiError::bad_request("no namespace on request"));
    }
    let status = match state.knobs.rbac.as_deref() {
        Some(r) => r.rules_review(namespace),
        None => access::rules(state, namespace),
    };
    Ok(json!({
        "kind": "SelfSubjectRulesReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": null},
        "spec": {"namespace": namespace},
        "status": status,
    }))
}

/// The created `SelfSubjectAccessReview` for a request: allowed when the
/// `--rbac` knob (if set) and the snapshot ([`access::decide`]) both allow.
pub fn access_answer(state: &State, asked: &Value) -> Result<Value, ApiError> {
    expect_kind(asked, "SelfSubjectAccessReview")?;
    let spec = asked.get("spec").cloned().unwrap_or_else(|| json!({}));
    let s = |v: Option<&Value>, k: &str| {
        v.and_then(|v| v.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let res = spec.get("resourceAttributes").filter(|v| v.is_object());
    let non = spec.get("nonResourceAttributes").filter(|v| v.is_object());
    let (verb, group, resource, sub, ns, name, path) = (
        s(res.or(non), "verb"),
        s(res, "group"),
        s(res, "resource"),
        s(res, "subresource"),
        s(res, "namespace"),
        s(res, "name"),
        s(non, "path"),
    );
    let attrs = match (res, non) {
        (Some(_), None) => Attributes::Resource {
            verb: &verb,
            group: &group,
            resource: &resource,
            subresource: Some(sub.as_str()).filter(|v| !v.is_empty()),
            namespace: Some(ns.as_str()).filter(|v| !v.is_empty()),
            name: Some(name.as_str()).filter(|v| !v.is_empty()),
        },
        (None, Some(_)) => Attributes::NonResource { verb: &verb, path: &path },
        // pkg/apis/authorization/validation: ValidateSelfSubjectAccessReviewSpec
        _ => {
            return Err(ApiError::bad_request(
                "spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified",
            ))
        }
    };
    let rbac_allows = state.knobs.rbac.as_ref().is_none_or(|r| r.allows(&attrs));
    let decision = if rbac_allows {
        access::decide(state, &attrs)
    } else {
        access::Decision {
            allowed: false,
            reason: String::new(),
        }
    };
    let mut status = json!({"allowed": decision.allowed});
    if !decision.reason.is_empty() {
        status["reason"] = Value::String(decision.reason);
    }
    Ok(json!({
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": null},
        "spec": spec,
        "status": status,
    }))
}

#[cfg(test)]
mod tests;
