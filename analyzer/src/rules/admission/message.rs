//! What the API server said when it refused a controller's pod: the
//! admission error inside a `FailedCreate` message, classified.
//!
//! The texts, from the Kubernetes sources:
//! - ResourceQuota (`staging/src/k8s.io/apiserver/pkg/admission/plugin/resourcequota/controller.go`):
//!   `exceeded quota: <quota>, requested: <r>=<q>,…, used: …, limited: …`
//!   (resources sorted, `prettyPrint`), and `failed quota: <quota>: must
//!   specify <r>,…` when a quota on a compute resource meets a container
//!   without a request or limit for it (`pkg/quota/v1/evaluator/core/pods.go`);
//!   before v1.3 both were capitalised.
//! - LimitRanger (`plugin/pkg/admission/limitranger/admission.go`):
//!   `maximum cpu usage per Container is 1, but limit is 2`, `minimum …
//!   but request is …`, `… No limit is specified`, `cpu max limit to
//!   request ratio per Container is 10, but provided ratio is 100.000000`;
//!   several at once are aggregated as `[e1, e2]`.
//! - Pod Security admission (`staging/src/k8s.io/pod-security-admission`):
//!   `violates PodSecurity "restricted:latest": allowPrivilegeEscalation !=
//!   false (container "web" must set …), unrestricted capabilities (…)`.
//! - Admission webhooks (`staging/src/k8s.io/apiserver/pkg/admission/plugin/webhook/errors`,
//!   `pkg/util/webhook/error.go`): `failed calling webhook "<name>": failed
//!   to call webhook: Post "https://…": no endpoints available for service
//!   "<svc>"` inside `Internal error occurred: …` when the call failed and
//!   the failure policy is `Fail`; `admission webhook "<name>" denied the
//!   request: <reason>` (or `… denied the request without explanation`).
//! - ServiceAccount admission (`plugin/pkg/admission/serviceaccount/admission.go`):
//!   `error looking up service account <ns>/<sa>: serviceaccount "<sa>" not found`.
//!
//! The controllers wrap them: `Error creating: pods "<name>" is forbidden:
//! …` (ReplicaSet, Job and DaemonSet controllers, `RealPodControl`), `create
//! Pod <name> in StatefulSet <set> failed error: …` (StatefulSet).

/// One resource a quota refused: what the pod asked, what was used, the cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaItem {
    /// e.g. `requests.cpu`, `pods`, `count/pods`.
    pub resource: String,
    /// What the new pod asked for.
    pub requested: String,
    /// Used before it, per the quota's status.
    pub used: String,
    /// The quota's hard limit.
    pub limited: String,
}

/// Why the API server refused the pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A ResourceQuota would be exceeded.
    QuotaExceeded {
        /// The quota's name.
        quota: String,
        /// Every resource over it.
        items: Vec<QuotaItem>,
    },
    /// A ResourceQuota on compute resources needs every container to set
    /// these requests or limits.
    QuotaUnspecified {
        /// The quota's name.
        quota: String,
        /// e.g. `limits.cpu`, `requests.memory`.
        missing: Vec<String>,
    },
    /// A LimitRange minimum, maximum or ratio is not met.
    LimitRange {
        /// Each violation verbatim (`maximum cpu usage per Container is 1,
        /// but limit is 2`).
        violations: Vec<String>,
    },
    /// Pod Security admission refused the pod.
    PodSecurity {
        /// `level:version` as enforced, e.g. `restricted:latest`.
        policy: String,
        /// Each violated check with its detail, verbatim.
        checks: Vec<String>,
    },
    /// A webhook could not be called and its failure policy is `Fail`.
    WebhookUnreachable {
        /// The webhook's name (not its configuration's).
        webhook: String,
        /// The call's error, e.g. `no endpoints available for service "x"`.
        error: String,
    },
    /// A webhook answered and denied the pod.
    WebhookDenied {
        /// The webhook's name.
        webhook: String,
        /// Its reason, or `None` when it gave none.
        reason: Option<String>,
    },
    /// The pod's ServiceAccount does not exist (or could not be read).
    ServiceAccount {
        /// Its name.
        name: String,
        /// What the lookup said (`serviceaccount "x" not found`).
        error: String,
    },
}

/// The part of a `FailedCreate` message after the controller's wrapping:
/// what follows `is forbidden: `, else `Error creating: ` or `failed
/// error: `, else the whole message.
pub fn admission_part(message: &str) -> &str {
    for marker in [" is forbidden: ", "Error creating: ", " failed error: "] {
        if let Some(i) = message.find(marker) {
            return &message[i + marker.len()..];
        }
    }
    message
}

/// The text of a Go `%q` string starting at `s` (which must begin with
/// `"`), and the rest after its closing quote.
fn quoted(s: &str) -> Option<(String, &str)> {
    let body = s.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &body[i + 1..])),
            '\\' => out.push(chars.next()?.1),
            c => out.push(c),
        }
    }
    None
}

/// Classifies a `FailedCreate` message; `None` when it is no admission
/// refusal kpm knows (a timeout, a conflict, a terminating namespace).
pub fn classify(message: &str) -> Option<Refusal> {
    webhook(message)
        .or_else(|| service_account(message))
        .or_else(|| pod_security(message))
        .or_else(|| quota(message))
        .or_else(|| limit_range(admission_part(message)))
}

fn webhook(message: &str) -> Option<Refusal> {
    const CALLING: &str = "failed calling webhook ";
    const DENIED: &str = "admission webhook ";
    if let Some(i) = message.find(CALLING) {
        let (webhook, rest) = quoted(&message[i + CALLING.len()..])?;
        let error = rest.strip_prefix(": ").unwrap_or(rest).trim().to_string();
        return Some(Refusal::WebhookUnreachable { webhook, error });
    }
    let i = message.find(DENIED)?;
    let (webhook, rest) = quoted(&message[i + DENIED.len()..])?;
    let rest = rest.strip_prefix(" denied the request")?;
    let reason = rest
        .strip_prefix(": ")
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    Some(Refusal::WebhookDenied { webhook, reason })
}

fn service_account(message: &str) -> Option<Refusal> {
    const LOOKUP: &str = "error looking up service account ";
    let lower = message.to_ascii_lowercase();
    let i = lower.find(LOOKUP)?;
    let rest = &message[i + LOOKUP.len()..];
    let (who, error) = rest.split_once(": ")?;
    let name = who.split_once('/').map_or(who, |(_, sa)| sa);
    Some(Refusal::ServiceAccount {
        name: name.to_string(),
        error: error.trim().to_string(),
    })
}

fn pod_security(message: &str) -> Option<Refusal> {
    const VIOLATES: &str = "violates PodSecurity ";
    let i = message.find(VIOLATES)?;
    let (policy, rest) = quoted(&message[i + VIOLATES.len()..])?;
    let checks = split_top_level(rest.strip_prefix(": ").unwrap_or(rest));
    Some(Refusal::PodSecurity { policy, checks })
}

/// Splits `a (x, y), b (z)` at the commas outside parentheses, brackets
/// and quotes.
fn split_top_level(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0_i32;
    let mut in_quote = false;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '"' => in_quote = !in_quote,
            '(' | '[' if !in_quote => depth += 1,
            ')' | ']' if !in_quote => depth -= 1,
            ',' if !in_quote && depth == 0 => {
                out.push(s[start..i].trim().to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(s[start..].trim().to_string());
    out.retain(|p| !p.is_empty());
    out
}

/// `a=1,b=2` into pairs.
fn resource_list(s: &str) -> Vec<(String, String)> {
    s.split(',')
        .filter_map(|kv| kv.trim().split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn quota(message: &str) -> Option<Refusal> {
    let lower = message.to_ascii_lowercase();
    if let Some(i) = lower.find("exceeded quota: ") {
        let rest = &message[i + "exceeded quota: ".len()..];
        let (quota, rest) = rest.split_once(", requested: ")?;
        let (requested, rest) = rest.split_once(", used: ")?;
        let (used, limited) = rest.split_once(", limited: ")?;
        let used = resource_list(used);
        let limited = resource_list(limited);
        let find = |list: &[(String, String)], r: &str| {
            list.iter()
                .find(|(k, _)| k == r)
                .map_or_else(String::new, |(_, v)| v.clone())
        };
        let items = resource_list(requested)
            .into_iter()
            .map(|(resource, requested)| QuotaItem {
                used: find(&used, &resource),
                limited: find(&limited, &resource),
                resource,
                requested,
            })
            .collect();
        return Some(Refusal::QuotaExceeded {
            quota: quota.trim().to_string(),
            items,
        });
    }
    let i = lower.find("failed quota: ")?;
    let rest = &message[i + "failed quota: ".len()..];
    let (quota, rest) = rest.split_once(": ")?;
    let missing = rest.strip_prefix("must specify ")?;
    Some(Refusal::QuotaUnspecified {
        quota: quota.trim().to_string(),
        missing: missing
            .split(',')
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty())
            .collect(),
    })
}

/// Whether one LimitRanger error reads as one (`maximum … usage per …`,
/// `… max limit to request ratio per …`).
fn is_limit_range_error(s: &str) -> bool {
    let s = s.to_ascii_lowercase();
    ((s.starts_with("maximum ") || s.starts_with("minimum ")) && s.contains(" usage per "))
        || s.contains(" max limit to request ratio per ")
}

fn limit_range(part: &str) -> Option<Refusal> {
    let inner = part
        .trim()
        .strip_prefix('[')
        .and_then(|p| p.strip_suffix(']'))
        .unwrap_or(part.trim());
    // A LimitRanger sentence itself holds a comma (`is 1, but limit is
    // 2`): rejoin the halves the split cut.
    let mut joined: Vec<String> = Vec::new();
    for piece in split_top_level(inner) {
        match joined.last_mut() {
            Some(last) if piece.starts_with("but ") => {
                last.push_str(", ");
                last.push_str(&piece);
            }
            _ => joined.push(piece),
        }
    }
    let violations: Vec<String> = joined
        .into_iter()
        .filter(|v| is_limit_range_error(v))
        .collect();
    (!violations.is_empty()).then_some(Refusal::LimitRange { violations })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_refusals_name_the_quota_and_each_resource() {
        // From a replicaset-controller event (kubernetes/kubernetes #49145 era).
        let m = "Error creating: pods \"allocation-manager-6597bc46dc-2wm8j\" is forbidden: exceeded quota: namespace-quota, requested: limits.cpu=1,limits.memory=2Gi, used: limits.cpu=6,limits.memory=12Gi, limited: limits.cpu=6,limits.memory=12Gi";
        let Some(Refusal::QuotaExceeded { quota, items }) = classify(m) else {
            panic!("{:?}", classify(m));
        };
        assert_eq!(quota, "namespace-quota");
        assert_eq!(
            items[1],
            QuotaItem {
                resource: "limits.memory".into(),
                requested: "2Gi".into(),
                used: "12Gi".into(),
                limited: "12Gi".into(),
            }
        );
        let sts = "create Pod es-master-0 in StatefulSet es-master failed error: pods \"es-master-0\" is forbidden: failed quota: fpl-quota: must specify requests.cpu,requests.memory";
        assert_eq!(
            classify(sts),
            Some(Refusal::QuotaUnspecified {
                quota: "fpl-quota".into(),
                missing: vec!["requests.cpu".into(), "requests.memory".into()],
            })
        );
    }

    #[test]
    fn limit_range_sentences_keep_their_comma() {
        let m = "Error creating: pods \"web-1\" is forbidden: maximum cpu usage per Container is 800m, but limit is 1500m";
        assert_eq!(
            classify(m),
            Some(Refusal::LimitRange {
                violations: vec![
                    "maximum cpu usage per Container is 800m, but limit is 1500m".into()
                ],
            })
        );
        let two = "pods \"x\" is forbidden: [maximum memory usage per Container is 4Gi, but limit is 8Gi, cpu max limit to request ratio per Container is 10, but provided ratio is 100.000000]";
        let Some(Refusal::LimitRange { violations }) = classify(two) else {
            panic!()
        };
        assert_eq!(violations.len(), 2, "{violations:?}");
        assert!(violations[1].ends_with("provided ratio is 100.000000"));
    }

    #[test]
    fn pod_security_checks_split_outside_parentheses() {
        let m = "Error creating: pods \"nodejs-app-8665bd77fb-2dd4n\" is forbidden: violates PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false (container \"runtime\" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (containers \"a\", \"b\" must set securityContext.capabilities.drop=[\"ALL\"]), runAsNonRoot != true (pod or container \"runtime\" must set securityContext.runAsNonRoot=true)";
        let Some(Refusal::PodSecurity { policy, checks }) = classify(m) else {
            panic!()
        };
        assert_eq!(policy, "restricted:latest");
        assert_eq!(checks.len(), 3, "{checks:?}");
        assert!(checks[1].starts_with("unrestricted capabilities (containers \"a\", \"b\""));
    }

    #[test]
    fn webhooks_unreachable_or_denying_are_told_apart() {
        let m = "Error creating: Internal error occurred: failed calling webhook \"mspinapp.kb.io\": failed to call webhook: Post \"https://spin-operator-webhook-service.spin-operator.svc:443/mutate?timeout=10s\": no endpoints available for service \"spin-operator-webhook-service\"";
        let Some(Refusal::WebhookUnreachable { webhook, error }) = classify(m) else {
            panic!()
        };
        assert_eq!(webhook, "mspinapp.kb.io");
        assert!(
            error.ends_with("no endpoints available for service \"spin-operator-webhook-service\"")
        );
        let d = "Error creating: admission webhook \"validation.gatekeeper.sh\" denied the request: [userpodlimits] container <x> has no cpu limit";
        assert_eq!(
            classify(d),
            Some(Refusal::WebhookDenied {
                webhook: "validation.gatekeeper.sh".into(),
                reason: Some("[userpodlimits] container <x> has no cpu limit".into()),
            })
        );
        let bare = "Error creating: pods \"p\" is forbidden: admission webhook \"w.example.com\" denied the request without explanation";
        assert_eq!(
            classify(bare),
            Some(Refusal::WebhookDenied {
                webhook: "w.example.com".into(),
                reason: None
            })
        );
    }

    #[test]
    fn missing_service_accounts_are_named() {
        let m = "Error creating: pods \"batch-x\" is forbidden: error looking up service account reports/exporter: serviceaccount \"exporter\" not found";
        assert_eq!(
            classify(m),
            Some(Refusal::ServiceAccount {
                name: "exporter".into(),
                error: "serviceaccount \"exporter\" not found".into(),
            })
        );
    }

    #[test]
    fn other_failures_are_not_classified() {
        for m in [
            "Error creating: pods \"web-1\" is forbidden: unable to create new content in namespace shop because it is being terminated",
            "Error creating: Timeout: request did not complete within requested timeout",
            "",
            "failed calling webhook \"unterminated",
        ] {
            assert_eq!(classify(m), None, "{m}");
        }
    }
}
