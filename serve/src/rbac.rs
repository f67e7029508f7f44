//! `--rbac FILE` (a test knob): answer as an API server whose caller holds
//! exactly the Roles and ClusterRoles in FILE.
//!
//! It exists to prove that `deploy/rbac.yaml` allows what `kpm-collect`
//! asks for and no more, and that the collector copes with less. FILE is a
//! multi-document YAML stream or a JSON object / `List`; every `Role` and
//! `ClusterRole` in it counts as granted to the caller. Bindings are not
//! evaluated: their only use is naming the caller (the first
//! `ServiceAccount` subject of a binding gives
//! `system:serviceaccount:NS:NAME`, as the 403 texts of a real server name
//! it). Every other kind is ignored.
//!
//! As RBAC evaluates them: a `ClusterRole` rule applies in every namespace
//! and at the cluster scope; a `Role` rule only to requests in the Role's
//! namespace. `*` matches any verb, group or resource, `*/log` any
//! resource's `log` subresource, an empty `resourceNames` any object, and a
//! non-resource URL ending in `*` every path with that prefix (only
//! ClusterRoles grant non-resource URLs). On top of FILE, every caller has
//! what the default `system:discovery`, `system:public-info-viewer` and
//! `system:basic-user` ClusterRoleBindings give every authenticated user
//! ([`DEFAULT_GRANTS`]): discovery, `/version`, health, and `create` of
//! `selfsubjectrulesreviews` / `selfsubjectaccessreviews`.
//!
//! A request outside the grants answers the API server's 403 `Status`
//! (`pods is forbidden: User "…" cannot list resource "pods" in API group ""
//! in the namespace "shop"`). [`Rbac::rules_review`] answers a
//! `SelfSubjectRulesReview` from the same rules.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::errors::{ApiError, Gr};

/// The caller when FILE binds no `ServiceAccount`.
pub const DEFAULT_USER: &str = "system:serviceaccount:kpm:kpm-collector";

/// Why `--rbac FILE` cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid --rbac {path}: {reason}")]
pub struct RbacError {
    /// The file given.
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

/// One RBAC `PolicyRule`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rule {
    /// `verbs`.
    pub verbs: Vec<String>,
    /// `apiGroups`.
    pub api_groups: Vec<String>,
    /// `resources` (`pods`, `pods/log`, `*`).
    pub resources: Vec<String>,
    /// `resourceNames` (empty: any).
    pub resource_names: Vec<String>,
    /// `nonResourceURLs`.
    pub non_resource_urls: Vec<String>,
}

/// A rule and where it applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The namespace of a `Role`; `None` for a `ClusterRole`.
    pub namespace: Option<String>,
    /// The rule.
    pub rule: Rule,
}

/// What a request asks to do, as the authorizer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attributes<'a> {
    /// A request about a resource.
    Resource {
        /// `get`, `list`, `watch`, `create`.
        verb: &'a str,
        /// API group (`""` for core).
        group: &'a str,
        /// Plural resource.
        resource: &'a str,
        /// Subresource (`log`).
        subresource: Option<&'a str>,
        /// Namespace; `None` at the cluster scope (also an all-namespaces list).
        namespace: Option<&'a str>,
        /// Object name.
        name: Option<&'a str>,
    },
    /// Any other path (`/version`, `/api`).
    NonResource {
        /// `get`.
        verb: &'a str,
        /// The path.
        path: &'a str,
    },
}

/// What every authenticated user may do on a default cluster (the
/// `system:discovery`, `system:public-info-viewer` and `system:basic-user`
/// ClusterRoles, bound to `system:authenticated` by the API server's
/// bootstrap policy).
pub const DEFAULT_GRANTS: &str = r#"[
 {"nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", "/version", "/version/",
   "/healthz", "/livez", "/readyz"], "verbs": ["get"]},
 {"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], "verbs": ["create"]},
 {"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"], "verbs": ["create"]}
]"#;

/// The caller's permissions.
#[derive(Debug, Clone)]
pub struct Rbac {
    /// Who the caller is in 403 texts.
    pub user: String,
    /// Grants from FILE, in file order.
    pub grants: Vec<Grant>,
    /// [`DEFAULT_GRANTS`].
    defaults: Vec<Rule>,
}

impl Rbac {
    /// Reads FILE (YAML documents, or JSON).
    pub fn load(path: &Path) -> Result<Rbac, RbacError> {
        let err = |reason: String| RbacError {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        Rbac::parse(&text).map_err(err)
    }

    /// Parses the text of FILE.
    pub fn parse(text: &str) -> Result<Rbac, String> {
        let docs: Vec<Value> = if text.trim_start().starts_with('{') {
            vec![serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?]
        } else {
            serde_saphyr::from_multiple::<Value>(text).map_err(|e| format!("not YAML: {e}"))?
        };
        let mut objects = Vec::new();
        for doc in docs {
            flatten(doc, &mut objects);
        }
        let mut rbac = Rbac {
            user: DEFAULT_USER.to_string(),
            grants: Vec::new(),
            defaults: default_rules(),
        };
        let mut user = None;
        for (i, obj) in objects.iter().enumerate() {
            let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
            match kind {
                "Role" | "ClusterRole" => rbac.add_role(kind, obj, i)?,
                "RoleBinding" | "ClusterRoleBinding" if user.is_none() => {
                    user = service_account_of(obj);
                }
                _ => {}
            }
        }
        if rbac.grants.is_empty() {
            return Err("no Role or ClusterRole with rules in it".into());
        }
        if let Some(u) = user {
            rbac.user = u;
        }
        Ok(rbac)
    }

    fn add_role(&mut self, kind: &str, obj: &Value, index: usize) -> Result<(), String> {
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("?");
        let namespace = if kind == "Role" {
            let ns = obj.pointer("/metadata/namespace").and_then(Value::as_str);
            Some(
                ns.ok_or_else(|| {
                    format!(
                        "Role {name:?} (document {}) has no metadata.namespace",
                        index + 1
                    )
                })?
                .to_string(),
            )
        } else {
            None
        };
        let rules = obj.get("rules").and_then(Value::as_array);
        for (j, r) in rules.into_iter().flatten().enumerate() {
            let rule =
                Rule::from_value(r).map_err(|e| format!("{kind} {name:?}, rule {}: {e}", j + 1))?;
            self.grants.push(Grant {
                namespace: namespace.clone(),
                rule,
            });
        }
        Ok(())
    }

    /// Whether the caller may do `attrs`.
    pub fn allows(&self, attrs: &Attributes<'_>) -> bool {
        self.defaults.iter().any(|r| r.allows(attrs)) || self.grants.iter().any(|g| g.allows(attrs))
    }

    /// `None` when allowed, else the 403 a real API server answers.
    pub fn check(&self, attrs: &Attributes<'_>) -> Option<ApiError> {
        if self.allows(attrs) {
            return None;
        }
        Some(match *attrs {
            Attributes::Resource {
                verb,
                group,
                resource,
                subresource,
                namespace,
                name,
            } => {
                let full = match subresource {
                    Some(sub) => format!("{resource}/{sub}"),
                    None => resource.to_string(),
                };
                ApiError::forbidden_as(
                    &self.user,
                    Gr {
                        group,
                        resource: &full,
                    },
                    verb,
                    name,
                    namespace,
                )
            }
            Attributes::NonResource { verb, path } => {
                ApiError::forbidden_path(&self.user, verb, path)
            }
        })
    }

    /// The `status` of a `SelfSubjectRulesReview` for `namespace`: the
    /// ClusterRole rules, the rules of Roles in `namespace`, and the
    /// defaults, as `resourceRules` / `nonResourceRules`.
    pub fn rules_review(&self, namespace: &str) -> Value {
        let rules: Vec<&Rule> = self
            .grants
            .iter()
            .filter(|g| g.namespace.as_deref().is_none_or(|ns| ns == namespace))
            .map(|g| &g.rule)
            .chain(self.defaults.iter())
            .collect();
        review_status(&rules)
    }

    /// The review a server without `--rbac` answers: everything allowed.
    pub fn all_allowed_review() -> Value {
        let all = Rule {
            verbs: vec!["*".into()],
            api_groups: vec!["*".into()],
            resources: vec!["*".into()],
            ..Rule::default()
        };
        let non = Rule {
            verbs: vec!["*".into()],
            non_resource_urls: vec!["*".into()],
            ..Rule::default()
        };
        review_status(&[&all, &non])
    }
}

/// `status` of a review from rules.
fn review_status(rules: &[&Rule]) -> Value {
    let mut resource_rules = Vec::new();
    let mut non_resource_rules = Vec::new();
    for r in rules {
        if !r.resources.is_empty() {
            let mut v =
                json!({"verbs": r.verbs, "apiGroups": r.api_groups, "resources": r.resources});
            if !r.resource_names.is_empty() {
                v["resourceNames"] = json!(r.resource_names);
            }
            resource_rules.push(v);
        }
        if !r.non_resource_urls.is_empty() {
            non_resource_rules
                .push(json!({"verbs": r.verbs, "nonResourceURLs": r.non_resource_urls}));
        }
    }
    json!({
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": false,
    })
}

fn default_rules() -> Vec<Rule> {
    let values: Vec<Value> = serde_json::from_str(DEFAULT_GRANTS).unwrap_or_default();
    values
        .iter()
        .filter_map(|v| Rule::from_value(v).ok())
        .collect()
}

/// Objects of a document: itself, or the items of a `List`.
fn flatten(doc: Value, out: &mut Vec<Value>) {
    let is_list = doc
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k == "List" || k.ends_with("List"));
    match doc {
        Value::Object(mut obj) if is_list => {
            if let Some(Value::Array(items)) = obj.remove("items") {
                for item in items {
                    flatten(item, out);
                }
            }
        }
        Value::Object(_) => out.push(doc),
        // Empty documents (a trailing `---`) and comments-only ones.
        _ => {}
    }
}

/// `system:serviceaccount:NS:NAME` of a binding's first ServiceAccount.
fn service_account_of(binding: &Value) -> Option<String> {
    binding
        .get("subjects")?
        .as_array()?
        .iter()
        .find(|s| s.get("kind").and_then(Value::as_str) == Some("ServiceAccount"))
        .and_then(|s| {
            let ns = s.get("namespace")?.as_str()?;
            let name = s.get("name")?.as_str()?;
            Some(format!("system:serviceaccount:{ns}:{name}"))
        })
}

impl Rule {
    /// Reads a `PolicyRule`; a rule that grants nothing is an error.
    pub fn from_value(v: &Value) -> Result<Rule, String> {
        let strings = |key: &str| -> Result<Vec<String>, String> {
            match v.get(key) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|s| {
                        s.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| format!("{key} holds a non-string"))
                    })
                    .collect(),
                Some(_) => Err(format!("{key} is not a list")),
            }
        };
        let rule = Rule {
            verbs: strings("verbs")?,
            api_groups: strings("apiGroups")?,
            resources: strings("resources")?,
            resource_names: strings("resourceNames")?,
            non_resource_urls: strings("nonResourceURLs")?,
        };
        if rule.verbs.is_empty() {
            return Err("no verbs".into());
        }
        if rule.resources.is_empty() && rule.non_resource_urls.is_empty() {
            return Err("neither resources nor nonResourceURLs".into());
        }
        Ok(rule)
    }

    /// Whether this rule alone allows `attrs` (RBAC's `RuleAllows`).
    pub fn allows(&self, attrs: &Attributes<'_>) -> bool {
        match *attrs {
            Attributes::Resource {
                verb,
                group,
                resource,
                subresource,
                name,
                ..
            } => {
                has(&self.verbs, verb)
                    && has(&self.api_groups, group)
                    && self.resource_matches(resource, subresource)
                    && (self.resource_names.is_empty()
                        || name.is_some_and(|n| self.resource_names.iter().any(|r| r == n)))
            }
            Attributes::NonResource { verb, path } => {
                has(&self.verbs, verb)
                    && self
                        .non_resource_urls
                        .iter()
                        .any(|u| match u.strip_suffix('*') {
                            Some(prefix) => path.starts_with(prefix),
                            None => u == path,
                        })
            }
        }
    }

    fn resource_matches(&self, resource: &str, subresource: Option<&str>) -> bool {
        self.resources.iter().any(|r| {
            if r == "*" {
                return true;
            }
            match subresource {
                None => r == resource,
                Some(sub) => r
                    .split_once('/')
                    .is_some_and(|(res, s)| (res == resource || res == "*") && s == sub),
            }
        })
    }
}

impl Grant {
    /// Whether this grant allows `attrs`: a Role only in its namespace.
    pub fn allows(&self, attrs: &Attributes<'_>) -> bool {
        if let Some(role_ns) = &self.namespace {
            match attrs {
                Attributes::Resource { namespace, .. } if *namespace == Some(role_ns.as_str()) => {}
                _ => return false,
            }
        }
        self.rule.allows(attrs)
    }
}

fn has(list: &[String], want: &str) -> bool {
    list.iter().any(|v| v == "*" || v == want)
}

#[cfg(test)]
mod tests;
