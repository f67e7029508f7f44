//! Lists: which stored items a list request selects, and pagination.
//!
//! Items are visited in the API server's order (namespace, then the stored
//! order within a namespace). A `continue` token is opaque to clients; it
//! encodes the resource and the position of the next item, so any token this
//! server did not issue for this resource is refused with 410 Expired, as the
//! API server refuses a token it cannot use.

use std::sync::Arc;

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::errors::ApiError;
use crate::selectors::{FieldSelector, LabelSelector};
use kpm_bundle::layout::ResourceKind;

use crate::store::{ItemRef, Loaded, Store};

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
        let limit = match get("limit") {
            Some(l) if !l.is_empty() => {
                let n: i64 = l.parse().map_err(|_| {
                    ApiError::bad_request(format!("invalid limit {l:?}: not an integer"))
                })?;
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

/// The items of the lists from position `from` (namespace, index) on,
/// without walking the items before it: later pages of a 150,000-pod list
/// must not cost more than the first.
fn items_from<'a>(
    lists: &'a [Arc<Loaded>],
    from: Option<(&'a str, usize)>,
) -> impl Iterator<Item = ItemRef> + 'a {
    lists
        .iter()
        .filter(move |l| from.is_none_or(|(ns, _)| ns_of(l) >= ns))
        .flat_map(move |l| {
            let first = match from {
                Some((ns, i)) if ns_of(l) == ns => i,
                _ => 0,
            };
            (first..l.items.len()).map(move |i| (l.clone(), i))
        })
}

/// Where a page's items come from.
pub enum Candidates<'a> {
    /// Whole lists in server order.
    Lists(&'a [Arc<Loaded>]),
    /// Chosen items in server order (from an index).
    Refs(Vec<ItemRef>),
    /// Every namespace's list of a kind, loaded only when the page reaches
    /// it: the first page of `kubectl get pods -A` on a huge bundle parses
    /// one namespace, not all of them.
    Namespaces(&'a Store, &'static ResourceKind),
}

/// Collects one page while items are offered in server order.
struct Collector<'p> {
    plural: &'p str,
    params: &'p ListParams,
    size: Option<usize>,
    items: Vec<ItemRef>,
    continue_token: Option<String>,
}

impl Collector<'_> {
    /// Takes or skips one item; true once the page is full and the next
    /// selected item has been found (the page is then complete).
    fn offer(&mut self, (list, i): ItemRef) -> bool {
        let Some(item) = list.items.get(i) else {
            return false;
        };
        let selected = self.params.label.matches(&item.labels)
            && self.params.field.matches(|f| item.field(self.plural, f));
        if !selected {
            return false;
        }
        if self.size.is_some_and(|s| self.items.len() >= s) {
            // Only hand out a token when another selected item exists, so the
            // last page is never empty.
            self.continue_token = Some(encode_token(self.plural, ns_of(&list), i));
            return true;
        }
        self.items.push((list, i));
        false
    }
}

/// One page of a list.
pub struct Page {
    /// Selected items.
    pub items: Vec<ItemRef>,
    /// Token for the next page.
    pub continue_token: Option<String>,
}

/// Selects one page from `candidates` (in server order). `cap` is the
/// `--page-size` knob: a page is never larger, even without `limit`.
pub fn select_page(
    plural: &str,
    candidates: Candidates<'_>,
    params: &ListParams,
    cap: Option<usize>,
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
        items: Vec::new(),
        continue_token: None,
    };
    match candidates {
        Candidates::Lists(lists) => {
            for r in items_from(lists, from) {
                if page.offer(r) {
                    break;
                }
            }
        }
        Candidates::Refs(refs) => {
            let after =
                |l: &Loaded, i: usize| from.is_none_or(|(ns, idx)| (ns_of(l), i) >= (ns, idx));
            for r in refs.into_iter().filter(|(l, i)| after(l, *i)) {
                if page.offer(r) {
                    break;
                }
            }
        }
        Candidates::Namespaces(store, kind) => {
            'namespaces: for ns in store.namespaces() {
                if from.is_some_and(|(start_ns, _)| ns.as_str() < start_ns) {
                    continue;
                }
                let Some(list) = store.load(kind, Some(ns))? else {
                    continue;
                };
                let slice = std::slice::from_ref(&list);
                for r in items_from(slice, from) {
                    if page.offer(r) {
                        break 'namespaces;
                    }
                }
            }
        }
    }
    Ok(Page {
        items: page.items,
        continue_token: page.continue_token,
    })
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

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListOut<'a> {
    kind: &'a str,
    api_version: &'a str,
    metadata: serde_json::Value,
    items: Vec<&'a RawValue>,
}

/// The JSON body of a list response, items copied verbatim.
pub fn list_body(
    list_kind: &str,
    api_version: &str,
    resource_version: &str,
    page: &Page,
) -> Result<Vec<u8>, ApiError> {
    let mut metadata = serde_json::Map::new();
    metadata.insert("resourceVersion".into(), resource_version.into());
    if let Some(c) = &page.continue_token {
        metadata.insert("continue".into(), c.clone().into());
    }
    let items: Vec<&RawValue> = page
        .items
        .iter()
        .filter_map(|(l, i)| l.items.get(*i).map(|it| it.raw.as_ref()))
        .collect();
    serde_json::to_vec(&ListOut {
        kind: list_kind,
        api_version,
        metadata: metadata.into(),
        items,
    })
    .map_err(ApiError::internal)
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
            Arc::new(parse_list("pods", Some("a"), a).unwrap()),
            Arc::new(parse_list("pods", Some("b"), b).unwrap()),
        ]
    }

    fn names(page: &Page) -> Vec<String> {
        page.items
            .iter()
            .map(|(l, i)| l.items[*i].name.clone())
            .collect()
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
        let p1 = select_page("pods", Candidates::Lists(&lists), &params, None).unwrap();
        assert_eq!(names(&p1), ["a1", "a3"]);
        params.continue_token = p1.continue_token.clone();
        assert!(params.continue_token.is_some());
        let p2 = select_page("pods", Candidates::Lists(&lists), &params, None).unwrap();
        assert_eq!(names(&p2), ["b1"]);
        assert!(p2.continue_token.is_none());
    }

    #[test]
    fn page_size_knob_caps_pages_without_limit() {
        let lists = lists();
        let params = ListParams::from_query(
            &query(&[("fieldSelector", "spec.nodeName=n1,status.phase!=Succeeded")]),
            "pods",
        )
        .unwrap();
        let p = select_page("pods", Candidates::Lists(&lists), &params, Some(1)).unwrap();
        assert_eq!(names(&p), ["a1"]);
        assert!(p.continue_token.is_some());
        let all = select_page("pods", Candidates::Lists(&lists), &params, None).unwrap();
        assert_eq!(names(&all), ["a1", "b1"]);
    }

    #[test]
    fn foreign_or_garbage_tokens_are_expired() {
        let lists = lists();
        let mut params = ListParams {
            continue_token: Some("not-a-token".into()),
            ..ListParams::default()
        };
        let err = select_page("pods", Candidates::Lists(&lists), &params, None)
            .err()
            .unwrap();
        assert_eq!(err.code, 410);
        params.continue_token = Some(encode_token("services", "a", 1));
        assert_eq!(
            select_page("pods", Candidates::Lists(&lists), &params, None)
                .err()
                .unwrap()
                .reason,
            "Expired"
        );
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
        let page = select_page(
            "pods",
            Candidates::Lists(&lists),
            &ListParams::default(),
            None,
        )
        .unwrap();
        let body = list_body("PodList", "v1", "250", &page).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["kind"], "PodList");
        assert_eq!(v["metadata"]["resourceVersion"], "250");
        assert_eq!(v["items"].as_array().unwrap().len(), 4);
        assert_eq!(v["items"][3]["metadata"]["name"], "b1");
    }
}
