//! `--dry-run`: what a collection would read, and which of those reads the
//! credentials may not make, without writing anything.
//!
//! Permissions come from `SelfSubjectRulesReview` (what `kubectl auth can-i
//! --list` asks), one per namespace in scope: the API server answers the
//! rules that apply in that namespace, ClusterRoles and the namespace's
//! Roles flattened together. A review needs a namespace ("no namespace on
//! request" otherwise), so cluster-scope reads (nodes, the all-namespace pod
//! reads) are judged from a review in [`CLUSTER_PROBE`], a namespace that
//! does not exist and so holds no RoleBinding: its rules are the
//! cluster-wide ones alone. When the server marks a review `incomplete` (an
//! authorizer other than RBAC, such as a webhook, also decides), missing
//! permissions are only "not shown to be granted".

use std::collections::BTreeSet;

use anyhow::Context as _;
use serde_json::{json, Value};

use kpm_bundle::layout::{ResourceKind, CLUSTER_KINDS, NAMESPACED_KINDS};

use crate::cli::Args;
use crate::connect::{self, Connection};
use crate::exit_codes::ExitCode;
use crate::fetch::{Fetcher, Paged};
use crate::outcome;
use crate::run::{fatal, Fatal};

/// Namespaces reviewed at most; more are counted, not checked.
const MAX_REVIEWS: usize = 100;

/// The namespace of the cluster-scope review: RoleBindings live in
/// namespaces, and this one is never created, so only ClusterRoleBindings
/// apply to it.
pub const CLUSTER_PROBE: &str = "kpm-dry-run-cluster-scope-probe";

/// One permission a collection needs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Need {
    /// `list` or `get`.
    pub verb: &'static str,
    /// API group.
    pub group: &'static str,
    /// `pods`, `pods/log`.
    pub resource: &'static str,
    /// `None`: cluster scope.
    pub namespace: Option<String>,
}

impl Need {
    fn describe(&self) -> String {
        let group = if self.group.is_empty() {
            "core"
        } else {
            self.group
        };
        match &self.namespace {
            Some(ns) => format!(
                "{} {} ({group}) in namespace {ns}",
                self.verb, self.resource
            ),
            None => format!(
                "{} {} ({group}) at the cluster scope",
                self.verb, self.resource
            ),
        }
    }
}

/// The rules of one review.
#[derive(Debug, Default)]
pub struct Rules {
    rules: Vec<Value>,
    /// The server said other authorizers may grant more.
    pub incomplete: bool,
}

impl Rules {
    /// Reads a review's `status`.
    pub fn from_review(review: &Value) -> Rules {
        Rules {
            rules: review
                .pointer("/status/resourceRules")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            incomplete: review
                .pointer("/status/incomplete")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }
    }

    /// Whether a rule grants `need` (RBAC matching: `*` anywhere, `*/sub`).
    pub fn allows(&self, need: &Need) -> bool {
        let has = |rule: &Value, key: &str, want: &str| {
            rule.get(key)
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|v| v == "*" || v == want))
        };
        let (res, sub) = match need.resource.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (need.resource, None),
        };
        self.rules.iter().any(|rule| {
            let names_ok = rule
                .get("resourceNames")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty);
            let resource_ok = rule
                .get("resources")
                .and_then(Value::as_array)
                .is_some_and(|a| {
                    a.iter().filter_map(Value::as_str).any(|r| match (r, sub) {
                        ("*", _) => true,
                        (r, None) => r == res,
                        (r, Some(s)) => r
                            .split_once('/')
                            .is_some_and(|(rr, rs)| (rr == res || rr == "*") && rs == s),
                    })
                });
            names_ok
                && resource_ok
                && has(rule, "verbs", need.verb)
                && has(rule, "apiGroups", need.group)
        })
    }
}

/// What a collection with these flags reads.
pub struct Plan {
    /// Namespaces whose objects are collected.
    pub namespaces: Vec<String>,
    /// Whether that is every namespace.
    pub all: bool,
}

/// Every permission `plan` needs: cluster lists, per-namespace lists and
/// logs, and the all-namespace pod reads when the scope is partial.
pub fn needs(args: &Args, plan: &Plan) -> Vec<Need> {
    let need = |kind: &ResourceKind, ns: Option<&str>| Need {
        verb: "list",
        group: kind.group,
        resource: kind.plural,
        namespace: ns.map(str::to_string),
    };
    let mut out: Vec<Need> = CLUSTER_KINDS.iter().map(|k| need(k, None)).collect();
    out.push(metrics("nodes", None));
    if !plan.all || args.selector.is_some() {
        // Infrastructure pods and node allocation read pods of every namespace.
        out.push(Need {
            verb: "list",
            group: "",
            resource: "pods",
            namespace: None,
        });
    }
    for ns in &plan.namespaces {
        out.extend(NAMESPACED_KINDS.iter().map(|k| need(k, Some(ns))));
        out.push(metrics("pods", Some(ns)));
        if !args.no_logs {
            out.push(Need {
                verb: "get",
                group: "",
                resource: "pods/log",
                namespace: Some(ns.clone()),
            });
        }
    }
    out
}

fn metrics(resource: &'static str, ns: Option<&str>) -> Need {
    Need {
        verb: "list",
        group: "metrics.k8s.io",
        resource,
        namespace: ns.map(str::to_string),
    }
}

/// Runs the dry run: connects, works out the scope, asks for the rules,
/// prints the plan and what is missing. Writes nothing.
pub async fn run(args: &Args) -> Result<ExitCode, Fatal> {
    let conn = connect::connect(
        args.kubeconfig.as_deref(),
        args.context.as_deref(),
        args.request_timeout,
    )
    .await
    .map_err(|e| fatal(ExitCode::Connect, e.into()))?;
    let fetch = Fetcher::new(
        conn.client.clone(),
        args.qps,
        args.burst,
        args.request_timeout,
        args.page_size,
    );
    let plan = scope(args, &conn, &fetch).await;
    let needs = needs(args, &plan);
    let reviewed: Vec<String> = plan.namespaces.iter().take(MAX_REVIEWS).cloned().collect();
    let mut missing = Vec::new();
    let mut incomplete = false;
    let scopes = std::iter::once(None).chain(reviewed.iter().map(Some));
    for ns in scopes {
        let rules = review(&conn, ns.map_or(CLUSTER_PROBE, String::as_str)).await?;
        incomplete |= rules.incomplete;
        for n in needs.iter().filter(|n| n.namespace.as_ref() == ns) {
            if !rules.allows(n) {
                missing.push(n.describe());
            }
        }
    }
    print_plan(args, &conn, &plan, &needs, reviewed.len());
    print_missing(&missing, incomplete);
    Ok(ExitCode::Success)
}

/// The namespaces a collection would cover (listing them when no `-n`).
async fn scope(args: &Args, conn: &Connection, fetch: &Fetcher) -> Plan {
    let excluded: BTreeSet<&str> = args.exclude_namespaces.iter().map(String::as_str).collect();
    let (mut namespaces, mut all) = if args.namespaces.is_empty() {
        let mut names = Vec::new();
        let listed = fetch
            .list("/api/v1/namespaces", |p| {
                if let Paged::Item(item) = p {
                    if let Some(n) = item.pointer("/metadata/name").and_then(Value::as_str) {
                        names.push(n.to_string());
                    }
                }
            })
            .await;
        match listed {
            Ok(_) => (names, true),
            Err(f) => {
                println!(
                    "cannot list namespaces ({}): a collection would cover only {:?}",
                    f.message,
                    conn.client.default_namespace()
                );
                (vec![conn.client.default_namespace().to_string()], false)
            }
        }
    } else {
        let mut asked: Vec<String> = Vec::new();
        for ns in &args.namespaces {
            if !ns.is_empty() && !asked.contains(ns) {
                asked.push(ns.clone());
            }
        }
        (asked, false)
    };
    let before = namespaces.len();
    namespaces.retain(|n| !excluded.contains(n.as_str()));
    if namespaces.len() != before {
        all = false;
    }
    Plan { namespaces, all }
}

/// One `SelfSubjectRulesReview` (the POST creates nothing lasting).
async fn review(conn: &Connection, namespace: &str) -> Result<Rules, Fatal> {
    let body = json!({
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectRulesReview",
        "spec": {"namespace": namespace},
    });
    let request = http::Request::post("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews")
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(&body).unwrap_or_default())
        .context("cannot build the SelfSubjectRulesReview request")
        .map_err(|e| fatal(ExitCode::Connect, e))?;
    let answer: Value = conn.client.request(request).await.map_err(|e| {
        let f = outcome::classify(&e);
        fatal(
            ExitCode::Connect,
            anyhow::anyhow!(
                "cannot ask the API server at {} for the permissions (SelfSubjectRulesReview in namespace {namespace}): {}",
                conn.server,
                f.message
            ),
        )
    })?;
    Ok(Rules::from_review(&answer))
}

fn print_plan(args: &Args, conn: &Connection, plan: &Plan, needs: &[Need], reviewed: usize) {
    println!(
        "dry run: nothing is written (context {:?}, server {})",
        conn.context, conn.server
    );
    let cluster: Vec<&str> = CLUSTER_KINDS.iter().map(|k| k.plural).collect();
    println!(
        "would collect, cluster scope: /version, {}, node metrics, node allocation",
        cluster.join(", ")
    );
    let scope = if plan.all {
        format!("all {} namespaces", plan.namespaces.len())
    } else {
        format!("{} namespaces", plan.namespaces.len())
    };
    println!(
        "would collect, per namespace ({scope}): {}",
        plan.namespaces.join(", ")
    );
    let kinds: Vec<&str> = NAMESPACED_KINDS.iter().map(|k| k.plural).collect();
    println!("  {}, pod metrics", kinds.join(", "));
    if let Some(sel) = &args.selector {
        println!(
            "  pods and their logs only where {sel:?} matches (infrastructure pods regardless)"
        );
    }
    if !args.exclude_namespaces.is_empty() {
        println!("  excluded: {}", args.exclude_namespaces.join(", "));
    }
    if args.no_logs {
        println!("  no container logs (--no-logs)");
    } else {
        let since = args
            .since
            .map_or(String::new(), |d| format!(", newer than {}s", d.as_secs()));
        println!(
            "  container logs: last {} lines / {} per container{since}",
            args.log_lines,
            crate::summary::human_bytes(args.log_bytes)
        );
    }
    if !plan.all || args.selector.is_some() {
        println!("would read at the cluster scope: infrastructure pods (ingress controllers, DNS, metrics-server, autoscalers) and every running pod for node allocation");
    }
    if let Some(max) = args.max_bundle_size {
        println!(
            "bundle content bounded to {} (largest logs cut first)",
            crate::summary::human_bytes(max)
        );
    }
    println!(
        "{} permissions needed; checked with SelfSubjectRulesReview at the cluster scope and in {reviewed} namespaces",
        needs.len()
    );
    if plan.namespaces.len() > reviewed {
        println!(
            "({} more namespaces not checked)",
            plan.namespaces.len() - reviewed
        );
    }
}

fn print_missing(missing: &[String], incomplete: bool) {
    if missing.is_empty() {
        println!("missing permissions: none");
        return;
    }
    println!(
        "missing permissions ({}; each is a forbidden step in a real run, which still writes a bundle):",
        missing.len()
    );
    for m in missing {
        println!("  {m}");
    }
    if incomplete {
        println!("(the server's review is incomplete: another authorizer may grant some of these)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn need(verb: &'static str, group: &'static str, resource: &'static str) -> Need {
        Need {
            verb,
            group,
            resource,
            namespace: Some("shop".into()),
        }
    }

    #[test]
    fn rules_match_like_rbac() {
        let r = Rules::from_review(&json!({"status": {"resourceRules": [
            {"verbs": ["list"], "apiGroups": [""], "resources": ["pods", "*/log"]},
            {"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]},
            {"verbs": ["*"], "apiGroups": ["apps"], "resources": ["*"]},
            {"verbs": ["list"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["one"]}
        ], "incomplete": true}}));
        assert!(r.incomplete);
        assert!(r.allows(&need("list", "", "pods")));
        assert!(r.allows(&need("get", "", "pods/log")));
        assert!(!r.allows(&need("get", "", "pods")));
        assert!(r.allows(&need("list", "apps", "deployments")));
        assert!(!r.allows(&need("list", "batch", "jobs")));
        assert!(
            !r.allows(&need("list", "", "secrets")),
            "resourceNames do not cover a list"
        );
    }
}
