//! The objects behind a refusal, checked against the bundle: the quota's
//! status, the LimitRange, the namespace's Pod Security label, the webhook
//! configuration and its Service's endpoints, the ServiceAccount.
//!
//! Each returns [`Facts`]: one sentence naming the decisive object and
//! values, the fields that prove it, related objects for linking and the
//! commands to look further.

use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use kpm_model::ObjectRef;
use kpm_semantics::quantity::Quantity;

use super::message::QuotaItem;
use crate::command::{Kubectl, Name};
use crate::context::NamespaceCtx;

/// What the bundle says about the object that refused the pod.
#[derive(Debug, Default)]
pub struct Facts {
    /// The decisive sentence.
    pub cause: String,
    /// `(object, path, value)` evidence.
    pub fields: Vec<(ObjectRef, String, String)>,
    /// Objects to relate (for links and readers).
    pub related: Vec<ObjectRef>,
    /// `(description, command)` next steps.
    pub commands: Vec<(String, Option<String>)>,
    /// The refusal no longer holds per the current objects (a quota with
    /// room now): the next retry should succeed.
    pub resolved: bool,
}

/// `used + requested` fits under `hard` (all parseable).
fn fits(used: &str, requested: &str, hard: &str) -> Option<bool> {
    let mut total = Quantity::parse(used).ok()?;
    total.add(&Quantity::parse(requested).ok()?);
    Some(total <= Quantity::parse(hard).ok()?)
}

fn percent(used: &str, hard: &str) -> Option<i128> {
    let (u, h) = (Quantity::parse(used).ok()?, Quantity::parse(hard).ok()?);
    (h.nanos() > 0).then(|| u.nanos() * 100 / h.nanos())
}

fn q(map: Option<&std::collections::BTreeMap<String, K8sQuantity>>, key: &str) -> Option<String> {
    map.and_then(|m| m.get(key)).map(|v| v.0.clone())
}

/// `exceeded quota`: the quota's current `status.hard` / `status.used` for
/// each refused resource, against what one pod asks.
pub fn quota_exceeded(ctx: &NamespaceCtx<'_>, quota: &str, items: &[QuotaItem]) -> Facts {
    let ns = ctx.namespace();
    let qref = ctx.object("ResourceQuota", quota);
    let found = ctx
        .ns
        .resource_quotas
        .iter()
        .find(|r| r.metadata.name.as_deref() == Some(quota));
    let status = found.and_then(|r| r.status.as_ref());
    let mut f = Facts::default();
    let mut parts = Vec::new();
    let mut room = !items.is_empty();
    for it in items {
        let hard = q(status.and_then(|s| s.hard.as_ref()), &it.resource)
            .unwrap_or_else(|| it.limited.clone());
        let used = q(status.and_then(|s| s.used.as_ref()), &it.resource)
            .unwrap_or_else(|| it.used.clone());
        let pct = percent(&used, &hard).map_or_else(String::new, |p| format!(" ({p} %)"));
        parts.push(format!(
            "{} is capped at {hard} with {used} used{pct}, and each new pod asks for {}",
            it.resource, it.requested
        ));
        room &= fits(&used, &it.requested, &hard) == Some(true);
        if found.is_some() {
            f.fields
                .push((qref.clone(), format!("status.hard.{}", it.resource), hard));
            f.fields
                .push((qref.clone(), format!("status.used.{}", it.resource), used));
        }
    }
    let missing = if found.is_some() {
        String::new()
    } else {
        " (the quota is not in the bundle: the figures are the API server's at the refusal)"
            .to_string()
    };
    f.resolved = found.is_some() && room;
    let now = if f.resolved {
        "; its status now has room for one more pod: the controller's next retry should succeed"
    } else {
        ""
    };
    f.cause = format!("ResourceQuota {quota}{missing}: {}{now}", parts.join("; "));
    f.related.push(qref);
    f.commands.push((
        "See the quota's limits and usage".into(),
        Kubectl::new()
            .namespace(ns)
            .args(["describe", "quota"])
            .name(quota)
            .build(),
    ));
    f
}

/// Whether a container sets `key` (`limits.cpu`, `requests.memory`, or a
/// bare `cpu` / `memory`, which quota reads as the request).
fn sets(c: &k8s_openapi::api::core::v1::Container, key: &str) -> bool {
    let r = c.resources.as_ref();
    let (list, name) = match key.split_once('.') {
        Some(("limits", n)) => (r.and_then(|r| r.limits.as_ref()), n),
        Some(("requests", n)) => (r.and_then(|r| r.requests.as_ref()), n),
        _ => (r.and_then(|r| r.requests.as_ref()), key),
    };
    list.is_some_and(|l| l.contains_key(name))
}

/// `failed quota: … must specify`: the quota and the template's containers
/// that do not set what it needs.
pub fn quota_unspecified(
    ctx: &NamespaceCtx<'_>,
    quota: &str,
    missing: &[String],
    template: Option<&PodSpec>,
) -> Facts {
    let lacking: Vec<String> = template
        .into_iter()
        .flat_map(|s| {
            s.init_containers
                .iter()
                .flatten()
                .chain(s.containers.iter())
        })
        .filter(|c| missing.iter().any(|m| !sets(c, m)))
        .map(|c| c.name.clone())
        .collect();
    let who = if lacking.is_empty() {
        String::new()
    } else {
        format!("; containers without them: {}", lacking.join(", "))
    };
    let mut f = Facts {
        cause: format!(
            "ResourceQuota {quota} limits {}, so every container must set them{who}",
            missing.join(", ")
        ),
        ..Facts::default()
    };
    f.related.push(ctx.object("ResourceQuota", quota));
    f.commands.push((
        "See which resources the quota limits".into(),
        Kubectl::new()
            .namespace(ctx.namespace())
            .args(["describe", "quota"])
            .name(quota)
            .build(),
    ));
    f
}

/// The resource and limit type a LimitRanger sentence is about
/// (`maximum cpu usage per Container …` → `cpu`, `Container`).
fn limit_subject(violation: &str) -> Option<(&str, &str)> {
    let mut words = violation.split_whitespace();
    let first = words.next()?;
    let resource = if first == "maximum" || first == "minimum" {
        words.next()?
    } else {
        first
    };
    let per = violation.split(" per ").nth(1)?;
    Some((resource, per.split_whitespace().next()?))
}

/// LimitRange violations: the namespace's LimitRanges that constrain the
/// resource, with their bound.
pub fn limit_range(ctx: &NamespaceCtx<'_>, violations: &[String]) -> Facts {
    let mut f = Facts {
        cause: format!("LimitRange: {}", violations.join("; ")),
        ..Facts::default()
    };
    let subjects: Vec<(&str, &str)> = violations.iter().filter_map(|v| limit_subject(v)).collect();
    for lr in &ctx.ns.limit_ranges {
        let name = lr.metadata.name.as_deref().unwrap_or_default();
        let lref = ctx.object("LimitRange", name);
        let mut hit = false;
        for item in lr.spec.as_ref().map(|s| s.limits.as_slice()).unwrap_or(&[]) {
            for (resource, ty) in &subjects {
                if item.type_ != *ty {
                    continue;
                }
                let bounds = [
                    ("max", item.max.as_ref()),
                    ("min", item.min.as_ref()),
                    (
                        "maxLimitRequestRatio",
                        item.max_limit_request_ratio.as_ref(),
                    ),
                ];
                for (field, map) in bounds {
                    if let Some(v) = map.and_then(|m| m.get(*resource)) {
                        hit = true;
                        let path = format!("spec.limits[type={ty}].{field}.{resource}");
                        f.fields.push((lref.clone(), path, v.0.clone()));
                    }
                }
            }
        }
        if hit {
            f.cause = format!("LimitRange {name}: {}", violations.join("; "));
            f.related.push(lref);
            f.commands.push((
                "See the LimitRange's bounds".into(),
                Kubectl::new()
                    .namespace(ctx.namespace())
                    .args(["describe", "limitrange"])
                    .name(name)
                    .build(),
            ));
        }
    }
    f
}

/// The label Pod Security admission enforces from
/// (`pod-security.kubernetes.io/enforce`).
pub const PSA_ENFORCE: &str = "pod-security.kubernetes.io/enforce";

/// Pod Security admission: the namespace's enforce label and the checks
/// the template fails.
pub fn pod_security(ctx: &NamespaceCtx<'_>, policy: &str, checks: &[String]) -> Facts {
    let ns = ctx.namespace();
    let nref = ObjectRef::cluster("Namespace", ns);
    let label = ctx
        .cluster
        .namespaces
        .iter()
        .find(|n| n.metadata.name.as_deref() == Some(ns))
        .and_then(|n| n.metadata.labels.as_ref())
        .and_then(|l| l.get(PSA_ENFORCE))
        .cloned();
    let names: Vec<&str> = checks
        .iter()
        .map(|c| c.split(" (").next().unwrap_or(c))
        .collect();
    let by = match &label {
        Some(level) => format!("namespace {ns} enforces Pod Security level {level} (label {PSA_ENFORCE}={level})"),
        None => format!("Pod Security admission enforces {policy} in namespace {ns} (the cluster default: the namespace has no {PSA_ENFORCE} label)"),
    };
    let mut f = Facts {
        cause: format!(
            "{by}; the pod template violates {policy} on {} check(s): {}",
            names.len(),
            names.join(", ")
        ),
        ..Facts::default()
    };
    if let Some(level) = label {
        f.fields.push((
            nref.clone(),
            format!("metadata.labels.{PSA_ENFORCE}"),
            level,
        ));
    }
    f.related.push(nref);
    f.commands.push((
        "See the namespace's Pod Security labels".into(),
        Kubectl::new()
            .args(["get", "namespace"])
            .value(Name::Label, ns)
            .args(["--show-labels"])
            .build(),
    ));
    f
}

/// The missing ServiceAccount.
pub fn service_account(ctx: &NamespaceCtx<'_>, name: &str, error: &str) -> Facts {
    let mut f = Facts {
        cause: format!(
            "the pod template's ServiceAccount {name} cannot be found in namespace {} ({error}); the ServiceAccount admission plugin refuses a pod whose ServiceAccount does not exist",
            ctx.namespace()
        ),
        ..Facts::default()
    };
    f.related.push(ctx.object("ServiceAccount", name));
    f.commands.push((
        "Check that the ServiceAccount exists".into(),
        Kubectl::new()
            .namespace(ctx.namespace())
            .args(["get", "serviceaccount"])
            .name(name)
            .build(),
    ));
    f
}
