//! The pod template of a workload as the diff compares it: each
//! container's image, command, env names (values only hashed) and
//! resources, and the ConfigMaps and Secrets the template consumes.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};

use super::event_digest::fnv;
use crate::rules::config::{consumed_refs, ConfigKind};

/// One container of a pod template, as the diff compares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSpec {
    /// Name.
    pub name: String,
    /// Image.
    pub image: String,
    /// `command` then `args`, space-joined.
    pub args: String,
    /// Environment variable names, each with a marker of its source
    /// (`=` literal, `<-` reference), sorted; values never kept.
    pub env: Vec<String>,
    /// Hash of the literal env values, to tell a changed value by name.
    pub env_values: BTreeMap<String, u64>,
    /// Requests and limits, `requests cpu=100m,memory=64Mi; limits ...`.
    pub resources: String,
}

fn container_spec(c: &Container, prefix: &str) -> ContainerSpec {
    let args: Vec<&str> = kpm_semantics::pod::command_words(c).collect();
    let mut env = Vec::new();
    let mut env_values = BTreeMap::new();
    for e in c.env.iter().flatten() {
        if e.value_from.is_some() {
            env.push([e.name.as_str(), "<-ref"].concat());
        } else {
            env.push([e.name.as_str(), "="].concat());
            env_values.insert(e.name.clone(), fnv(e.value.as_deref().unwrap_or("")));
        }
    }
    env.sort();
    // `requests cpu=100m,memory=64Mi; limits cpu=1`, appended in place.
    type Quantities = BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>;
    let mut resources = String::new();
    let mut quantities = |label: &str, m: Option<&Quantities>| {
        resources.push_str(label);
        for (i, (k, v)) in m.into_iter().flatten().enumerate() {
            if i > 0 {
                resources.push(',');
            }
            resources.push_str(k);
            resources.push('=');
            resources.push_str(&v.0);
        }
    };
    let res = c.resources.as_ref();
    quantities("requests ", res.and_then(|r| r.requests.as_ref()));
    quantities("; limits ", res.and_then(|r| r.limits.as_ref()));
    ContainerSpec {
        name: [prefix, c.name.as_str()].concat(),
        image: c.image.clone().unwrap_or_default(),
        args: args.join(" "),
        env,
        env_values,
        resources,
    }
}

/// The comparable part of a pod template.
pub(super) fn template(t: Option<&PodTemplateSpec>) -> (Vec<ContainerSpec>, Vec<String>) {
    let Some(spec) = t.and_then(|t| t.spec.as_ref()) else {
        return (Vec::new(), Vec::new());
    };
    (containers_of(spec), refs_of(spec))
}

fn containers_of(spec: &PodSpec) -> Vec<ContainerSpec> {
    let init = spec.init_containers.iter().flatten();
    init.map(|c| container_spec(c, "init:"))
        .chain(spec.containers.iter().map(|c| container_spec(c, "")))
        .collect()
}

fn refs_of(spec: &PodSpec) -> Vec<String> {
    let mut refs: Vec<String> = config_names(spec)
        .map(|(kind, name)| config_ref(kind, name))
        .collect();
    refs.sort();
    refs.dedup();
    refs
}

/// The ConfigMaps and Secrets a pod spec consumes, the cluster's
/// `kube-root-ca.crt` (in every pod's token volume) left out.
pub(super) fn config_names(spec: &PodSpec) -> impl Iterator<Item = (ConfigKind, &str)> {
    consumed_refs(spec)
        .into_iter()
        .filter(|(_, name, _)| *name != "kube-root-ca.crt")
        .map(|(kind, name, _)| (kind, name))
}

pub(super) fn config_ref(kind: ConfigKind, name: &str) -> String {
    match kind {
        ConfigKind::ConfigMap => ["ConfigMap/", name].concat(),
        ConfigKind::Secret => ["Secret/", name].concat(),
    }
}
