//! The webhook behind a refusal: its configuration, failure policy and
//! backend, and whether that backend had a ready endpoint when the bundle
//! was collected.

use k8s_openapi::api::admissionregistration::v1::WebhookClientConfig;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kpm_model::ObjectRef;

use super::facts::Facts;
use crate::command::{Kubectl, Name};
use crate::context::{ClusterData, NamespaceCtx, WebhookBackend};

/// What a webhook configuration says about one webhook.
#[derive(Debug)]
struct Hook<'a> {
    /// `ValidatingWebhookConfiguration` or `MutatingWebhookConfiguration`.
    kind: &'static str,
    /// The configuration's name.
    config: &'a str,
    /// `failurePolicy` (the API defaults it to `Fail`).
    failure_policy: &'a str,
    /// `timeoutSeconds` (defaults to 10).
    timeout: i32,
    /// Where the API server calls it.
    client: &'a WebhookClientConfig,
}

impl<'a> Hook<'a> {
    /// One webhook of configuration `config`, with the API's defaults for
    /// what it leaves out.
    fn new(
        kind: &'static str,
        config: &'a ObjectMeta,
        failure_policy: Option<&'a str>,
        timeout: Option<i32>,
        client: &'a WebhookClientConfig,
    ) -> Hook<'a> {
        Hook {
            kind,
            config: config.name.as_deref().unwrap_or_default(),
            failure_policy: failure_policy.unwrap_or("Fail"),
            timeout: timeout.unwrap_or(10),
            client,
        }
    }
}

/// The webhook named `name` in the bundle's configurations.
fn find<'a>(cluster: &'a ClusterData, name: &str) -> Option<Hook<'a>> {
    let p = &cluster.platform;
    let validating = p.validating_webhooks.iter().flat_map(|c| {
        c.webhooks.iter().flatten().map(move |w| {
            let hook = Hook::new(
                "ValidatingWebhookConfiguration",
                &c.metadata,
                w.failure_policy.as_deref(),
                w.timeout_seconds,
                &w.client_config,
            );
            (w.name.as_str(), hook)
        })
    });
    let mutating = p.mutating_webhooks.iter().flat_map(|c| {
        c.webhooks.iter().flatten().map(move |w| {
            let hook = Hook::new(
                "MutatingWebhookConfiguration",
                &c.metadata,
                w.failure_policy.as_deref(),
                w.timeout_seconds,
                &w.client_config,
            );
            (w.name.as_str(), hook)
        })
    });
    validating
        .chain(mutating)
        .find(|(n, _)| *n == name)
        .map(|(_, h)| h)
}

/// How the backend Service looked: `its Service ns/name has 0 ready
/// endpoints (1 not ready)`.
fn backend_state(b: Option<&WebhookBackend>, ns: &str, name: &str) -> String {
    let Some(b) = b else {
        return format!("its Service {ns}/{name} was not looked up");
    };
    match (b.service_exists, b.addresses) {
        (Some(false), _) => format!("its Service {ns}/{name} does not exist"),
        (_, None) => format!("the Endpoints of its Service {ns}/{name} are not in the bundle"),
        (_, Some((0, 0))) => format!("its Service {ns}/{name} has no endpoints"),
        (_, Some((ready, not_ready))) => {
            format!("its Service {ns}/{name} has {ready} ready endpoint(s) ({not_ready} not ready)")
        }
    }
}

/// Facts of a webhook refusal: `error` is the call's failure (unreachable)
/// or `None` when the webhook answered and denied (`denial`).
pub fn facts(
    ctx: &NamespaceCtx<'_>,
    webhook: &str,
    error: Option<&str>,
    denial: Option<&str>,
) -> Facts {
    let mut f = Facts::default();
    let what = match (error, denial) {
        (Some(e), _) => format!("cannot be called: {e}"),
        (None, Some(r)) => format!("denied the pod: {r}"),
        (None, None) => "denied the pod without explanation".to_string(),
    };
    let Some(h) = find(ctx.cluster, webhook) else {
        f.cause = format!(
            "admission webhook {webhook} {what}; no webhook configuration in the bundle names it (removed since, or not collected)"
        );
        return f;
    };
    let cref = ObjectRef::cluster(h.kind, h.config);
    f.fields.push((
        cref.clone(),
        format!("webhooks[name={webhook}].failurePolicy"),
        h.failure_policy.to_string(),
    ));
    let kind_word = if h.kind.starts_with("Validating") {
        "validatingwebhookconfiguration"
    } else {
        "mutatingwebhookconfiguration"
    };
    f.commands.push((
        "See the webhook's configuration (rules, failurePolicy, service)".into(),
        Kubectl::new()
            .args(["get", kind_word])
            .name(h.config)
            .args(["-o", "yaml"])
            .build(),
    ));
    let mut backend = String::new();
    if let Some(svc) = &h.client.service {
        let b = ctx
            .cluster
            .platform
            .webhook_backends
            .iter()
            .find(|b| b.namespace == svc.namespace && b.name == svc.name);
        // A webhook that answered had a backend: its state only explains
        // a failed call.
        if error.is_some() {
            backend = format!("; {}", backend_state(b, &svc.namespace, &svc.name));
        }
        let sref = ObjectRef::namespaced("Service", &svc.namespace, &svc.name);
        f.fields.push((
            cref.clone(),
            format!("webhooks[name={webhook}].clientConfig.service"),
            format!("{}/{}", svc.namespace, svc.name),
        ));
        f.related.push(sref);
        if error.is_some() {
            f.commands.push((
                "Check the webhook Service's endpoints".into(),
                Kubectl::new()
                    .namespace(&svc.namespace)
                    .args(["get", "endpoints"])
                    .value(Name::Label, &svc.name)
                    .build(),
            ));
        }
    } else if let Some(url) = &h.client.url {
        backend = format!("; it is called at {url}");
    }
    let policy = if error.is_some() {
        format!(
            " (failurePolicy {}, timeout {} s: a failed call refuses the pod)",
            h.failure_policy, h.timeout
        )
    } else {
        String::new()
    };
    f.cause = format!(
        "webhook {webhook} of {} {}{policy} {what}{backend}",
        h.kind, h.config
    );
    f.related.push(cref);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_states_say_what_is_known() {
        let b = |exists, addresses| WebhookBackend {
            namespace: "guard".into(),
            name: "hook".into(),
            service_exists: exists,
            addresses,
        };
        assert_eq!(
            backend_state(Some(&b(Some(true), Some((0, 1)))), "guard", "hook"),
            "its Service guard/hook has 0 ready endpoint(s) (1 not ready)"
        );
        assert_eq!(
            backend_state(Some(&b(Some(false), None)), "guard", "hook"),
            "its Service guard/hook does not exist"
        );
        assert_eq!(
            backend_state(Some(&b(Some(true), None)), "guard", "hook"),
            "the Endpoints of its Service guard/hook are not in the bundle"
        );
    }
}
