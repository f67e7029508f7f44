//! Lists: which stored items a list request selects, and pagination.
//!
//! Items are visited in the API server's order (namespace, then the stored
//! order within a namespace). A `continue` token is opaque to clients; it
//! encodes the resource and the position of the next item, so any token this
//! server did not issue for this resource is refused with 410 Expired, as the
//! API server refuses a token it cannot use.

use std::sync::Arc;

use base64::Engine;
use kpm_bundle::layout::ResourceKind;
use serde::{Deserialize, Serialize};

use crate::errors::ApiError;
use crate::gaps::Gaps;
use crate::index::Pos;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::{Item, Loaded, Store};

/// The list-related query parameters.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    /// `labelSelector`.
    pub label: LabelSelector,
    /// `fieldSelector`.
    pub field: FieldSelector,
    /// `limit` (0 means none, as on the API server).
    pub limit: Option<usize>,
    /// `continue`.
    pub continue_token: Option<String>,
}

impl ListParams {
    /// Reads the parameters from the query pairs and checks the field
    /// labels against `plural`.
    pub fn from_query(query: &[(String, String)], plural: &str) -> Result<ListParams, ApiError> {
        let get = |k: &str| {
            query
                .iter()
                .find(|(qk, _)| qk == k)
                .map(|(_, v)| v.as_str())
        };
        let label = LabelSelector::parse(get("labelSelector").unwrap_or(""))?;
        let field = FieldSelector::parse(get("fieldSelector").unwrap_or(""))?;
        field.validate(plural)?;
        // Not used (a snapshot answers at once) but range-checked as the
        // API server checks it.
        if let Some(t) = get("timeoutSeconds").filter(|t| !t.is_empty()) {
            if crate::logs::parse_num("timeoutSeconds", t)? < 0 {
                return Err(ApiError::bad_request(format!(
                    "timeoutSeconds: Invalid value: {t}: must be greater than or equal to 0"
                )));
            }
        }
        let limit = match get("limit") {
            Some(l) if !l.is_empty() => {
                let n = crate::logs::parse_num("limit", l)?;
                usize::try_from(n).ok().filter(|n| *n > 0)
            }
            _ => None,
        };
        Ok(ListParams {
            label,
            field,
            limit,
            continue_token: get("continue")
                .filter(|c| !c.is_empty())
                .map(str::to_string),
        })
    }
}

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Token {
    v: u8,
    r: String,
    n: String,
    i: usize,
}

/// Encodes the position of the next item.
fn encode_token(plural: &str, namespace: &str, index: usize) -> String {
    let t = Token {
        v: 1,
        r: plural.to_string(),
        n: namespace.to_string(),
        i: index,
    };
    let json = serde_json::to_vec(&t).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

fn decode_token(plural: &str, token: &str) -> Result<(String, usize), ApiError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| ApiError::expired_continue())?;
    let t: Token = serde_json::from_slice(&bytes).map_err(|_| ApiError::expired_continue())?;
    if t.v != 1 || t.r != plural {
        return Err(ApiError::expired_continue());
    }
    Ok((t.n, t.i))
}

fn ns_of(list: &Loaded) -> &str {
    list.namespace.as_deref().unwrap_or("")
}

/// Where a page's items come from.
pub enum Candidates<'a> {
    /// Whole lists in server order.
    Lists(&'a [Arc<Loaded>]),
    /// Every namespace's list of a kind, loaded only when the page reaches
    /// it: the first page of `kubectl get pods -A` on a huge bundle parses
    /// one namespace, not all of them.
    Namespaces(&'a Store, &'static ResourceKind),
    /// Chosen items of a kind (from a [`crate::index::FieldIndex`]), in
    /// server order; only their namespaces are loaded.
    Indexed(&'a Store, &'static ResourceKind, &'a [Pos]),
}

/// Receives the selected items of a page, in order.
pub type Sink<'s> = dyn FnMut(&Loaded, &Item) -> Result<(), ApiError> + 's;

/// Selects one page while items are offered in server order.
struct Collector<'p, 's> {
    plural: &'p str,
    params: &'p ListParams,
    size: Option<usize>,
    taken: usize,
    sink: &'p mut Sink<'s>,
    continue_token: Option<String>,
    left_out: usize,
    gaps: Gaps,
}

/// What selecting a page found besides the items.
#[derive(Debug, Default, PartialEq)]
pub struct Page {
    /// Token of the next page, if any.
    pub continue_token: Option<String>,
    /// Objects passed over because their names are not valid Kubernetes
    /// names (see `store::valid_names`).
    pub left_out: usize,
    /// Namespaces whose list could not be read, passed over.
    pub gaps: Gaps,
}

impl Collector<'_, '_> {
    fn finish(self) -> Page {
        Page {
            continue_token: self.continue_token,
            left_out: self.left_out,
            gaps: self.gaps,
        }
    }

    /// Takes or skips item `i` of `list`, which is item `position` of its
    /// namespace's full list (they differ when `list` holds only indexed
    /// objects); true once the page is full and the next selected item has
    /// been found (the page is then complete).
    fn offer(&mut self, list: &Loaded, i: usize, position: usize) -> Result<bool, ApiError> {
        let Some(item) = list.items.get(i) else {
            return Ok(false);
        };
        if !item.valid {
            self.left_out += 1;
            return Ok(false);
        }
        let selected = self.params.label.matches(&item.labels)
            && self.params.field.matches(|f| item.field(self.plural, f));
        if !selected {
            return Ok(false);
        }
        if self.size.is_some_and(|s| self.taken >= s) {
            // Only hand out a token when another selected item exists, so the
            // last page is never empty.
            self.continue_token = Some(encode_token(self.plural, ns_of(list), position));
            return Ok(true);
        }
        self.taken += 1;
        (self.sink)(list, item)?;
        Ok(false)
    }

    /// Offers the items of `list` from the resume position on.
    fn offer_list(&mut self, list: &Loaded, from: Option<(&str, usize)>) -> Result<bool, ApiError> {
        let first = match from {
            Some((ns, _)) if ns_of(list) < ns => return Ok(false),
            Some((ns, i)) if ns_of(list) == ns => i,
            _ => 0,
        };
        for i in first..list.items.len() {
            if self.offer(list, i, i)? {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Selects one page from `candidates` (in server order) and hands each
/// selected item to `sink` as it is found, so a page is never held twice
/// and an unpaged list of every namespace never holds every namespace.
/// `cap` is the `--page-size` knob: a page is never larger, even without
/// `limit`. Returns the continue token of the next page, if any.
///
/// Resuming costs nothing per skipped item: the token names the namespace
/// and the position in it, so page N of a 150,000-pod list costs what page
/// 1 costs.
pub fn select_page(
    plural: &str,
    candidates: Candidates<'_>,
    params: &ListParams,
    cap: Option<usize>,
    sink: &mut Sink<'_>,
) -> Result<Page, ApiError> {
    let start = match &params.continue_token {
        Some(t) => Some(decode_token(plural, t)?),
        None => None,
    };
    let from = start.as_ref().map(|(n, i)| (n.as_str(), *i));
    let mut page = Collector {
        plural,
        params,
        size: match (params.limit, cap) {
            (Some(l), Some(c)) => Some(l.min(c)),
            (l, c) => l.or(c),
        },
        taken: 0,
        sink,
        continue_token: None,
        left_out: 0,
        gaps: Gaps::default(),
    };
    match candidates {
        Candidates::Lists(lists) => {
            for list in lists {
                if page.offer_list(list, from)? {
                    break;
                }
            }
        }
        Candidates::Namespaces(store, kind) => {
            for ns in store.namespaces() {
                if from.is_some_and(|(start_ns, _)| ns.as_str() < start_ns) {
                    continue;
                }
                let Some(list) = store.load_or_note(kind, ns, &mut page.gaps) else {
                    continue;
                };
                if page.offer_list(&list, from)? {
                    break;
                }
            }
        }
        Candidates::Indexed(store, kind, positions) => {
            let namespaces = store.namespaces();
            let after = |p: &Pos| {
                let ns = namespaces.get(p.ns as usize).map_or("", String::as_str);
                from.is_none_or(|(start_ns, i)| (ns, p.item as usize) >= (start_ns, i))
            };
            let positions: Vec<Pos> = positions.iter().copied().filter(after).collect();
            // One namespace at a time: its whole list when cached, else just
            // the indexed objects read from their byte ranges.
            for group in positions.chunk_by(|a, b| a.ns == b.ns) {
                let Some(ns) = group.first().and_then(|p| namespaces.get(p.ns as usize)) else {
                    continue;
                };
                let full = store.cached(kind, Some(ns));
                let part = match full {
                    Some(_) => None,
                    None => {
                        let ranges: Vec<_> = group.iter().map(Pos::range).collect();
                        match store.load_ranges(kind, ns, &ranges) {
                            Ok(Some(p)) => Some(p),
                            Ok(None) => continue,
                            Err(e) => {
                                page.gaps.note(crate::store::damage_note(&e));
                                continue;
                            }
                        }
                    }
                };
                for (k, pos) in group.iter().enumerate() {
                    let item = pos.item as usize;
                    let done = match (&full, &part) {
                        (Some(l), _) => page.offer(l, item, item)?,
                        (None, Some(p)) => page.offer(p, k, item)?,
                        (None, None) => false,
                    };
                    if done {
                        return Ok(page.finish());
                    }
                }
            }
        }
    }
    Ok(page.finish())
}

/// The list `resourceVersion`: the highest of the stored lists' (they are
/// numeric on etcd-backed servers), else the first non-empty one.
pub fn combined_resource_version<'a>(versions: impl Iterator<Item = &'a str>) -> String {
    let mut best: Option<(u64, &str)> = None;
    let mut first = "";
    for v in versions {
        if first.is_empty() {
            first = v;
        }
        if let Ok(n) = v.parse::<u64>() {
            if best.is_none_or(|(b, _)| n > b) {
                best = Some((n, v));
            }
        }
    }
    best.map_or(first, |(_, v)| v).to_string()
}

/// Writes a list response body item by item.
///
/// `metadata` comes last because the continue token is known only once the
/// page is complete; JSON clients do not depend on key order.
pub struct ListWriter {
    out: Vec<u8>,
    count: usize,
}

impl ListWriter {
    /// Starts a `list_kind` body.
    pub fn new(list_kind: &str, api_version: &str) -> ListWriter {
        let mut out = Vec::with_capacity(64 * 1024);
        out.extend_from_slice(b"{\"kind\":");
        push_json_str(&mut out, list_kind);
        out.extend_from_slice(b",\"apiVersion\":");
        push_json_str(&mut out, api_version);
        out.extend_from_slice(b",\"items\":[");
        ListWriter { out, count: 0 }
    }

    /// Appends one stored object verbatim.
    pub fn item(&mut self, raw: &str) {
        if self.count > 0 {
            self.out.push(b',');
        }
        self.out.extend_from_slice(raw.as_bytes());
        self.count += 1;
    }

    /// Closes the body with the list metadata.
    pub fn finish(mut self, resource_version: &str, continue_token: Option<&str>) -> Vec<u8> {
        self.out.extend_from_slice(b"],");
        push_list_meta(&mut self.out, resource_version, continue_token);
        self.out.push(b'}');
        self.out
    }
}

/// Writes `"metadata":{"resourceVersion":..,"continue":..}`.
pub fn push_list_meta(out: &mut Vec<u8>, resource_version: &str, continue_token: Option<&str>) {
    out.extend_from_slice(b"\"metadata\":{\"resourceVersion\":");
    push_json_str(out, resource_version);
    if let Some(c) = continue_token {
        out.extend_from_slice(b",\"continue\":");
        push_json_str(out, c);
    }
    out.push(b'}');
}

/// Appends `s` as a JSON string.
pub fn push_json_str(out: &mut Vec<u8>, s: &str) {
    // Writing a str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// The JSON body of a whole page of items, copied verbatim.
pub fn list_body(
    list_kind: &str,
    api_version: &str,
    resource_version: &str,
    items: &[&str],
    continue_token: Option<&str>,
) -> Vec<u8> {
    let mut w = ListWriter::new(list_kind, api_version);
    for raw in items {
        w.item(raw);
    }
    w.finish(resource_version, continue_token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::parse_list;

    fn lists() -> Vec<Arc<Loaded>> {
        let a = br#"{"metadata":{"resourceVersion":"100"},"items":[
            {"metadata":{"name":"a1","namespace":"a","labels":{"app":"web"}},"spec":{"nodeName":"n1"},"status":{"phase":"Running"}},
            {"metadata":{"name":"a2","namespace":"a","labels":{"app":"db"}},"spec":{"nodeName":"n2"},"status":{"phase":"Running"}},
            {"metadata":{"name":"a3","namespace":"a","labels":{"app":"web"}},"spec":{"nodeName":"n1"},"status":{"phase":"Succeeded"}}]}"#;
        let b = br#"{"metadata":{"resourceVersion":"250"},"items":[
            {"metadata":{"name":"b1","namespace":"b","labels":{"app":"web"}},"spec":{"nodeName":"n1"},"status":{"phase":"Pending"}}]}"#;
        vec![
            Arc::new(parse_list("pods", Some("a"), a.to_vec()).unwrap()),
            Arc::new(parse_list("pods", Some("b"), b.to_vec()).unwrap()),
        ]
    }

    /// Names on one page and the next token.
    fn page(
        lists: &[Arc<Loaded>],
        params: &ListParams,
        cap: Option<usize>,
    ) -> Result<(Vec<String>, Option<String>), ApiError> {
        let mut names = Vec::new();
        let token = select_page(
            "pods",
            Candidates::Lists(lists),
            params,
            cap,
            &mut |_, it: &Item| {
                names.push(it.name.clone());
                Ok(())
            },
        )?
        .continue_token;
        Ok((names, token))
    }

    fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn pages_across_namespaces_with_a_selector() {
        let lists = lists();
        let mut params = ListParams::from_query(
            &query(&[("labelSelector", "app=web"), ("limit", "2")]),
            "pods",
        )
        .unwrap();
        let (p1, token) = page(&lists, &params, None).unwrap();
        assert_eq!(p1, ["a1", "a3"]);
        assert!(token.is_some());
        params.continue_token = token;
        let (p2, token) = page(&lists, &params, None).unwrap();
        assert_eq!(p2, ["b1"]);
        assert!(token.is_none());
    }

    #[test]
    fn every_item_exactly_once_at_every_page_size() {
        let lists = lists();
        for limit in 1..=5 {
            let mut params = ListParams {
                limit: Some(limit),
                ..ListParams::default()
            };
            let mut seen = Vec::new();
            loop {
                let (names, token) = page(&lists, &params, None).unwrap();
                assert!(!names.is_empty(), "empty page at limit {limit}");
                assert!(names.len() <= limit);
                seen.extend(names);
                match token {
                    Some(t) => params.continue_token = Some(t),
                    None => break,
                }
            }
            assert_eq!(seen, ["a1", "a2", "a3", "b1"], "limit {limit}");
        }
    }

    #[test]
    fn page_size_knob_caps_pages_without_limit() {
        let lists = lists();
        let params = ListParams::from_query(
            &query(&[("fieldSelector", "spec.nodeName=n1,status.phase!=Succeeded")]),
            "pods",
        )
        .unwrap();
        let (p, token) = page(&lists, &params, Some(1)).unwrap();
        assert_eq!(p, ["a1"]);
        assert!(token.is_some());
        let (all, _) = page(&lists, &params, None).unwrap();
        assert_eq!(all, ["a1", "b1"]);
    }

    #[test]
    fn foreign_or_garbage_tokens_are_expired() {
        let lists = lists();
        let mut params = ListParams {
            continue_token: Some("not-a-token".into()),
            ..ListParams::default()
        };
        let err = page(&lists, &params, None).err().unwrap();
        assert_eq!(err.code, 410);
        params.continue_token = Some(encode_token("services", "a", 1));
        assert_eq!(page(&lists, &params, None).err().unwrap().reason, "Expired");
    }

    #[test]
    fn resource_version_is_the_highest() {
        assert_eq!(
            combined_resource_version(["100", "250", "99"].into_iter()),
            "250"
        );
        assert_eq!(combined_resource_version(["", "abc"].into_iter()), "abc");
    }

    #[test]
    fn body_keeps_items_verbatim() {
        let lists = lists();
        let mut w = ListWriter::new("PodList", "v1");
        let token = select_page(
            "pods",
            Candidates::Lists(&lists),
            &ListParams {
                limit: Some(3),
                ..ListParams::default()
            },
            None,
            &mut |l: &Loaded, it: &Item| {
                w.item(l.raw(it));
                Ok(())
            },
        )
        .unwrap()
        .continue_token;
        let body = w.finish("250", token.as_deref());
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["kind"], "PodList");
        assert_eq!(v["apiVersion"], "v1");
        assert_eq!(v["metadata"]["resourceVersion"], "250");
        assert_eq!(v["metadata"]["continue"].as_str(), token.as_deref());
        assert_eq!(v["items"].as_array().unwrap().len(), 3);
        assert_eq!(v["items"][2]["metadata"]["name"], "a3");
        assert_eq!(v["items"][0]["spec"]["nodeName"], "n1");
        let empty: serde_json::Value = serde_json::from_slice(&list_body(
            "ReplicationControllerList",
            "v1",
            "7",
            &[],
            None,
        ))
        .unwrap();
        assert_eq!(empty["items"].as_array().unwrap().len(), 0);
        assert!(empty["metadata"].get("continue").is_none());
    }
}
