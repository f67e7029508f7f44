//! NetworkPolicy ingress evaluation, pure: is traffic from one pod to
//! another on one port allowed, by which policy and rule, or which policies
//! isolate the target and why none of their rules admits the traffic.
//!
//! Semantics of `networking.k8s.io/v1` as the API reference and the
//! "Network Policies" concept page state them:
//! - a policy applies to ingress when `policyTypes` contains `Ingress`;
//!   without `policyTypes` every policy applies to ingress (and to egress
//!   only when it has an `egress` section);
//! - a pod selected (`spec.podSelector`, `{}` = every pod of the policy's
//!   namespace) by any ingress policy is isolated for ingress: only what
//!   some ingress rule of some selecting policy allows gets in (policies
//!   are additive, never subtractive); `ingress` empty or absent allows
//!   nothing;
//! - a rule allows traffic that matches one of its `from` peers (absent or
//!   empty `from` = every source) and one of its `ports` (absent or empty =
//!   every port);
//! - a peer with `podSelector` alone selects pods of the policy's own
//!   namespace; with `namespaceSelector` alone every pod of the selected
//!   namespaces; both in one peer select the matching pods in the matching
//!   namespaces (AND); two peers are alternatives (OR); `ipBlock` is a CIDR
//!   with `except` ranges;
//! - a port matches on its protocol (default `TCP`) and number, from `port`
//!   to `endPort` inclusive, or by name against the target pod's declared
//!   container ports; no `port` matches every port of the protocol.
//!
//! What a bundle cannot settle is [`Verdict::Unknown`], never a denial: an
//! `ipBlock` when the source pod's IP is unknown, a `namespaceSelector` when
//! namespace labels were not collected, a selector the API would reject.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kpm_semantics::selector::Selector;

/// The pod the traffic comes from.
#[derive(Debug, Clone, Copy)]
pub struct Peer<'a> {
    /// Its namespace.
    pub namespace: &'a str,
    /// Its labels.
    pub labels: &'a BTreeMap<String, String>,
    /// Its namespace's labels; `None` when the bundle has no Namespace
    /// objects (a `namespaceSelector` then cannot be judged).
    pub namespace_labels: Option<&'a BTreeMap<String, String>>,
    /// `status.podIP`, when known (for `ipBlock`).
    pub ip: Option<IpAddr>,
}

/// The pod the traffic goes to, and the port it arrives on.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Its namespace: only policies of this namespace can select it.
    pub namespace: &'a str,
    /// Its labels.
    pub labels: &'a BTreeMap<String, String>,
    /// Destination port number on the pod.
    pub port: i32,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: &'a str,
    /// Names of the pod's declared container ports with that number and
    /// protocol (what a named policy port resolves against).
    pub port_names: &'a [String],
}

/// Why one ingress rule does not admit the traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleMiss {
    /// Index of the rule in `spec.ingress`.
    pub rule: usize,
    /// Why its `from` peers do not match the source, one line per peer;
    /// `None` when one of them matches.
    pub peers: Option<Vec<String>>,
    /// Why its `ports` do not match; `None` when one of them matches.
    pub ports: Option<String>,
}

/// A policy that isolates the target and admits nothing of this traffic.
#[derive(Debug, Clone)]
pub struct Isolation<'p> {
    /// The policy.
    pub policy: &'p NetworkPolicy,
    /// Why each of its ingress rules misses; empty when it has none (it
    /// denies every ingress).
    pub misses: Vec<RuleMiss>,
}

/// The answer for one (source, target, port).
#[derive(Debug, Clone)]
pub enum Verdict<'p> {
    /// No ingress policy selects the target: everything is allowed.
    NotIsolated,
    /// Rule `rule` of `policy` admits the traffic.
    Allowed {
        /// The policy.
        policy: &'p NetworkPolicy,
        /// Index in its `spec.ingress`.
        rule: usize,
    },
    /// A rule might admit it, but the bundle cannot tell.
    Unknown {
        /// The policy.
        policy: &'p NetworkPolicy,
        /// Index in its `spec.ingress`.
        rule: usize,
        /// What is missing to decide.
        why: String,
    },
    /// Isolated, and no rule of any selecting policy admits the traffic.
    Denied(Vec<Isolation<'p>>),
}

/// Outcome of one rule or one peer.
enum Match {
    Yes,
    Unknown(String),
    No(String),
}

/// Whether `policy` applies to ingress: `policyTypes` lists `Ingress`, or
/// is absent/empty (the API server defaults it to `["Ingress"]`, plus
/// `Egress` when egress rules exist).
pub fn affects_ingress(policy: &NetworkPolicy) -> bool {
    let Some(spec) = policy.spec.as_ref() else {
        return false;
    };
    match spec.policy_types.as_deref() {
        None | Some([]) => true,
        Some(types) => types.iter().any(|t| t == "Ingress"),
    }
}

/// Whether `policy`'s `spec.podSelector` selects `target` (same namespace;
/// an absent or empty selector selects every pod). A selector with an
/// invalid operator selects nothing, as the API would have refused it.
pub fn selects(policy: &NetworkPolicy, target: &Target<'_>) -> bool {
    if policy.metadata.namespace.as_deref() != Some(target.namespace) {
        return false;
    }
    let Some(spec) = policy.spec.as_ref() else {
        return false;
    };
    match &spec.pod_selector {
        None => true,
        Some(sel) => Selector::from_label_selector(sel).is_ok_and(|s| s.matches(target.labels)),
    }
}

/// Evaluates ingress from `peer` to `target` against every policy.
pub fn evaluate<'p>(
    policies: &'p [NetworkPolicy],
    peer: &Peer<'_>,
    target: &Target<'_>,
) -> Verdict<'p> {
    let mut isolations = Vec::new();
    let mut unknown = None;
    for policy in policies
        .iter()
        .filter(|p| affects_ingress(p) && selects(p, target))
    {
        let rules = policy
            .spec
            .as_ref()
            .and_then(|s| s.ingress.as_deref())
            .unwrap_or(&[]);
        let ns = policy.metadata.namespace.as_deref().unwrap_or_default();
        let mut misses = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            match rule_match(ns, i, rule, peer, target) {
                Ok(Match::Yes) => return Verdict::Allowed { policy, rule: i },
                Ok(Match::Unknown(why)) => {
                    unknown.get_or_insert(Verdict::Unknown {
                        policy,
                        rule: i,
                        why,
                    });
                }
                Ok(Match::No(_)) => {}
                Err(miss) => misses.push(miss),
            }
        }
        isolations.push(Isolation { policy, misses });
    }
    if let Some(u) = unknown {
        return u;
    }
    if isolations.is_empty() {
        Verdict::NotIsolated
    } else {
        Verdict::Denied(isolations)
    }
}

/// One rule: `Ok(Yes)`, `Ok(Unknown)`, or `Err` with why it misses.
fn rule_match(
    policy_ns: &str,
    index: usize,
    rule: &NetworkPolicyIngressRule,
    peer: &Peer<'_>,
    target: &Target<'_>,
) -> Result<Match, RuleMiss> {
    let ports = rule.ports.as_deref().unwrap_or(&[]);
    let port_miss = if ports.is_empty() || ports.iter().any(|p| port_matches(p, target)) {
        None
    } else {
        Some(format!(
            "it admits only {}, the traffic is {}/{}",
            ports.iter().map(port_text).collect::<Vec<_>>().join(", "),
            target.protocol,
            traffic_port_text(target)
        ))
    };
    let from = rule.from.as_deref().unwrap_or(&[]);
    let mut peer_misses = Vec::new();
    let mut peer_unknown = None;
    let mut peer_ok = from.is_empty();
    for p in from {
        match peer_match(policy_ns, p, peer) {
            Match::Yes => peer_ok = true,
            Match::Unknown(why) => {
                peer_unknown.get_or_insert(why);
            }
            Match::No(why) => peer_misses.push(why),
        }
    }
    match (peer_ok, peer_unknown, port_miss) {
        (true, _, None) => Ok(Match::Yes),
        (false, Some(why), None) => Ok(Match::Unknown(why)),
        (ok, unknown, ports) => Err(RuleMiss {
            rule: index,
            // An unknown peer with a port that misses is still a miss: name
            // the port, not the peer.
            peers: (!ok && unknown.is_none()).then_some(peer_misses),
            ports,
        }),
    }
}

/// Whether one `ports` entry matches the traffic.
fn port_matches(p: &NetworkPolicyPort, target: &Target<'_>) -> bool {
    if p.protocol.as_deref().unwrap_or("TCP") != target.protocol {
        return false;
    }
    match &p.port {
        None => true,
        Some(IntOrString::Int(n)) => match p.end_port {
            Some(end) => (*n..=end).contains(&target.port),
            None => *n == target.port,
        },
        Some(IntOrString::String(name)) => target.port_names.iter().any(|n| n == name),
    }
}

/// `TCP/8080`, `TCP/8000-8100`, `TCP/http`, `TCP (any port)`.
fn port_text(p: &NetworkPolicyPort) -> String {
    let proto = p.protocol.as_deref().unwrap_or("TCP");
    match (&p.port, p.end_port) {
        (None, _) => format!("{proto} (any port)"),
        (Some(IntOrString::Int(n)), Some(end)) => format!("{proto}/{n}-{end}"),
        (Some(IntOrString::Int(n)), None) => format!("{proto}/{n}"),
        (Some(IntOrString::String(name)), _) => format!("{proto}/{name}"),
    }
}

/// `8080` or `8080 (named http)`.
fn traffic_port_text(target: &Target<'_>) -> String {
    if target.port_names.is_empty() {
        target.port.to_string()
    } else {
        format!("{} (named {})", target.port, target.port_names.join(", "))
    }
}

/// One `from` entry against the source pod.
fn peer_match(policy_ns: &str, p: &NetworkPolicyPeer, peer: &Peer<'_>) -> Match {
    if let Some(block) = &p.ip_block {
        let Some(ip) = peer.ip else {
            return Match::Unknown(format!(
                "ipBlock {} may contain the source pod's IP, which the bundle does not hold",
                block.cidr
            ));
        };
        return match (cidr_contains(&block.cidr, ip), except_contains(block, ip)) {
            (Some(true), Some(false)) => Match::Yes,
            (Some(true), Some(true)) => Match::No(format!(
                "its ipBlock {} excepts the source pod's IP {ip}",
                block.cidr
            )),
            (Some(false), _) => Match::No(format!(
                "its ipBlock {} does not contain the source pod's IP {ip}",
                block.cidr
            )),
            _ => Match::Unknown(format!("ipBlock {} is not a CIDR kpm reads", block.cidr)),
        };
    }
    let ns_part = match (&p.namespace_selector, &p.pod_selector) {
        (None, None) => return Match::No("an empty peer selects nothing".to_string()),
        (None, Some(_)) if peer.namespace != policy_ns => {
            return Match::No(format!(
                "its podSelector without namespaceSelector selects only pods of namespace {policy_ns}, the source is in {}",
                peer.namespace
            ))
        }
        (None, Some(_)) => Match::Yes,
        (Some(sel), _) => namespace_match(sel, peer),
    };
    let pod_part = match &p.pod_selector {
        None => Match::Yes,
        Some(sel) => label_match("podSelector", sel, peer.labels, "the source pod"),
    };
    match (ns_part, pod_part) {
        (Match::No(a), Match::No(b)) => Match::No(format!("{a}, and {b}")),
        (Match::No(why), _) | (_, Match::No(why)) => Match::No(why),
        (Match::Unknown(why), _) | (_, Match::Unknown(why)) => Match::Unknown(why),
        (Match::Yes, Match::Yes) => Match::Yes,
    }
}

fn namespace_match(sel: &LabelSelector, peer: &Peer<'_>) -> Match {
    let everything = sel.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
        && sel.match_expressions.as_ref().is_none_or(Vec::is_empty);
    if everything {
        return Match::Yes;
    }
    match peer.namespace_labels {
        Some(labels) => label_match(
            "namespaceSelector",
            sel,
            labels,
            &format!("namespace {}", peer.namespace),
        ),
        None => Match::Unknown(format!(
            "namespaceSelector {} cannot be judged: namespace {}'s labels are not in the bundle",
            selector_text(sel),
            peer.namespace
        )),
    }
}

/// `what sel` against `labels` of `whose`.
fn label_match(
    what: &str,
    sel: &LabelSelector,
    labels: &BTreeMap<String, String>,
    whose: &str,
) -> Match {
    match Selector::from_label_selector(sel) {
        Ok(s) if s.matches(labels) => Match::Yes,
        Ok(s) => Match::No(format!(
            "its {what} {} does not match {whose} ({})",
            if s.is_empty() {
                "{}".to_string()
            } else {
                s.to_string()
            },
            labels_text(labels)
        )),
        Err(e) => Match::Unknown(format!("{what} is invalid: {e}")),
    }
}

/// A selector as `kubectl describe networkpolicy` writes it (`app=web`),
/// `{}` when it selects everything.
pub fn selector_text(sel: &LabelSelector) -> String {
    match Selector::from_label_selector(sel) {
        Ok(s) if s.is_empty() => "{}".to_string(),
        Ok(s) => s.to_string(),
        Err(e) => format!("<invalid: {e}>"),
    }
}

fn labels_text(labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return "no labels".to_string();
    }
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn except_contains(block: &k8s_openapi::api::networking::v1::IPBlock, ip: IpAddr) -> Option<bool> {
    let mut any = false;
    for e in block.except.iter().flatten() {
        any |= cidr_contains(e, ip)?;
    }
    Some(any)
}

/// Whether CIDR `cidr` (`10.0.0.0/16`, `fd00::/8`) contains `ip`; `None`
/// when it does not parse. Families never contain each other.
pub fn cidr_contains(cidr: &str, ip: IpAddr) -> Option<bool> {
    let (addr, len) = cidr.split_once('/')?;
    let addr: IpAddr = addr.parse().ok()?;
    let len: u32 = len.parse().ok()?;
    match (addr, ip) {
        (IpAddr::V4(net), IpAddr::V4(ip)) if len <= 32 => {
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            Some(u32::from(net) & mask == u32::from(ip) & mask)
        }
        (IpAddr::V6(net), IpAddr::V6(ip)) if len <= 128 => {
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            Some(u128::from(net) & mask == u128::from(ip) & mask)
        }
        (IpAddr::V4(_), IpAddr::V6(_)) | (IpAddr::V6(_), IpAddr::V4(_)) => Some(false),
        _ => None,
    }
}
