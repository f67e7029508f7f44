//! OpenAPI documents for the served kinds: `/openapi/v3` (the index),
//! `/openapi/v3/api/v1`, `/openapi/v3/apis/<group>/<version>` and
//! `/openapi/v2`, so `kubectl explain` works offline.
//!
//! The schemas are generated from the `k8s-openapi` types the project reads
//! bundles with (their `schemars` implementations carry the API's field
//! descriptions), not copied from a cluster. kubectl explain finds a kind by
//! the `x-kubernetes-group-version-kind` of the `get` operation on the
//! kind's path, then the schema carrying the same extension; both are
//! written here. Documents are built on first request and kept for the life
//! of the process (they depend only on the table of kinds), serialized, a
//! few MiB in all.

mod proto;
mod types;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use k8s_openapi::schemars::generate::SchemaSettings;
use kpm_bundle::layout::{all_kinds, ResourceKind, Scope};
use serde_json::{json, Map, Value};

/// The format of a document: where its definitions live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// Swagger 2.0: `#/definitions/`.
    V2,
    /// OpenAPI 3.0: `#/components/schemas/`.
    V3,
}

impl Format {
    fn settings(self) -> SchemaSettings {
        match self {
            // Swagger 2.0 as the API server writes it keeps `description`
            // beside `$ref`; kubectl's v2 parser reads no `allOf`, so the
            // draft-07 transforms (which wrap such refs in one) are off.
            Format::V2 => SchemaSettings::draft07().with(|s| {
                s.definitions_path = "/definitions".into();
                s.meta_schema = None;
                s.transforms.clear();
            }),
            Format::V3 => SchemaSettings::openapi3().with(|s| s.meta_schema = None),
        }
    }

    fn reference(self, name: &str) -> String {
        match self {
            Format::V2 => format!("#/definitions/{name}"),
            Format::V3 => format!("#/components/schemas/{name}"),
        }
    }
}

/// `/api/v1` or `/apis/<group>/<version>`, without the leading slash.
fn group_version_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// The `x-kubernetes-group-version-kind` value of one kind.
fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({"group": group, "kind": kind, "version": version})
}

/// The `get` operations of a kind's paths (list and read), each marked with
/// the kind's group, version and kind.
fn paths(
    kind: &ResourceKind,
    item_ref: &str,
    list_ref: &str,
    format: Format,
) -> Vec<(String, Value)> {
    let base = format!("/{}", group_version_path(kind.group, kind.version));
    let plural = kind.plural;
    let response = |reference: &str| match format {
        Format::V2 => json!({"200": {"description": "OK", "schema": {"$ref": reference}}}),
        Format::V3 => {
            json!({"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": reference}}}}})
        }
    };
    let op = |action: &str, what: &str, reference: &str| {
        json!({"get": {
            "description": format!("{action} {what}"),
            "responses": response(reference),
            "x-kubernetes-action": if action == "read" { "get" } else { "list" },
            "x-kubernetes-group-version-kind": gvk(kind.group, kind.version, kind.kind),
        }})
    };
    let list = op("list", &format!("objects of kind {}", kind.kind), list_ref);
    let read = op("read", &format!("the specified {}", kind.kind), item_ref);
    match kind.scope {
        Scope::Cluster => vec![
            (format!("{base}/{plural}"), list),
            (format!("{base}/{plural}/{{name}}"), read),
        ],
        Scope::Namespaced => vec![
            (format!("{base}/{plural}"), list.clone()),
            (format!("{base}/namespaces/{{namespace}}/{plural}"), list),
            (
                format!("{base}/namespaces/{{namespace}}/{plural}/{{name}}"),
                read,
            ),
        ],
    }
}

/// The paths and definitions of `kinds` (those without a schema are left
/// out).
fn build(
    kinds: &[&'static ResourceKind],
    format: Format,
) -> (Map<String, Value>, Map<String, Value>) {
    let mut generator = format.settings().into_generator();
    let mut served = Vec::new();
    for kind in kinds {
        if let Some(t) = types::schema_of(kind) {
            (t.register)(&mut generator);
            served.push((*kind, t));
        }
    }
    (types::list_meta().register)(&mut generator);
    let mut definitions = generator.take_definitions(true);
    let list_meta_ref = format.reference(&(types::list_meta().name)());
    let mut paths_out = Map::new();
    for (kind, t) in served {
        let name = (t.name)();
        if let Some(def) = definitions
            .get_mut(name.as_ref())
            .and_then(Value::as_object_mut)
        {
            def.insert(
                "x-kubernetes-group-version-kind".into(),
                json!([gvk(kind.group, kind.version, kind.kind)]),
            );
        }
        let list_name = format!("{name}List");
        let item_ref = format.reference(&name);
        definitions.insert(
            list_name.clone(),
            list_schema(kind, &item_ref, &list_meta_ref),
        );
        for (path, item) in paths(kind, &item_ref, &format.reference(&list_name), format) {
            paths_out.insert(path, item);
        }
    }
    (paths_out, definitions)
}

/// The `<Kind>List` schema (the generated types have no list type).
fn list_schema(kind: &ResourceKind, item_ref: &str, list_meta_ref: &str) -> Value {
    json!({
        "description": format!("{}List is a list of {} objects.", kind.kind, kind.kind),
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"description": "APIVersion defines the versioned schema of this representation of an object.", "type": "string"},
            "items": {"description": format!("List of {}.", kind.plural), "type": "array", "items": {"$ref": item_ref}},
            "kind": {"description": "Kind is a string value representing the REST resource this object represents.", "type": "string"},
            "metadata": {"$ref": list_meta_ref, "description": "Standard list metadata."},
        },
        "x-kubernetes-group-version-kind": [gvk(kind.group, kind.version, &kind.list_kind())],
    })
}

/// Group versions with at least one kind that has a schema, in the order
/// of the table of kinds.
fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for k in all_kinds().filter(|k| types::schema_of(k).is_some()) {
        if !out.contains(&(k.group, k.version)) {
            out.push((k.group, k.version));
        }
    }
    out
}

fn info() -> Value {
    json!({"title": "Kubernetes", "version": "kpm-snapshot"})
}

fn to_bytes(doc: &Value) -> Vec<u8> {
    serde_json::to_vec(doc).unwrap_or_default()
}

/// `/openapi/v3/<group version path>`.
fn v3_document(group: &str, version: &str) -> Vec<u8> {
    let kinds: Vec<&'static ResourceKind> = all_kinds()
        .filter(|k| k.group == group && k.version == version)
        .collect();
    let (paths, schemas) = build(&kinds, Format::V3);
    to_bytes(&json!({
        "openapi": "3.0.0",
        "info": info(),
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

/// A version tag for the index's URLs: the documents change only with the
/// program, so its version will do.
const HASH: &str = concat!("kpm-", env!("CARGO_PKG_VERSION"));

/// `/openapi/v3`: where each group version's document is.
fn v3_index() -> Vec<u8> {
    let paths: BTreeMap<String, Value> = group_versions()
        .into_iter()
        .map(|(g, v)| {
            let p = group_version_path(g, v);
            let url = format!("/openapi/v3/{p}?hash={HASH}");
            (p, json!({"serverRelativeURL": url}))
        })
        .collect();
    to_bytes(&json!({ "paths": paths }))
}

/// `/openapi/v2`: every served kind in one Swagger 2.0 document.
fn v2_value() -> Value {
    let kinds: Vec<&'static ResourceKind> = all_kinds().collect();
    let (paths, definitions) = build(&kinds, Format::V2);
    json!({
        "swagger": "2.0",
        "info": info(),
        "paths": paths,
        "definitions": definitions,
    })
}

/// `/openapi/v2` in the form `accept` prefers, with its media type, when
/// that is the protobuf form (which kubectl asks for); None leaves the
/// JSON form to [`document`].
pub fn v2_protobuf(accept: &str) -> Option<(&'static [u8], &'static str)> {
    static PROTO: OnceLock<Vec<u8>> = OnceLock::new();
    let first = accept
        .split(',')
        .map(|m| m.split(';').next().unwrap_or("").trim())
        .find(|m| proto::ACCEPTED.contains(m) || *m == "application/json" || *m == "*/*")?;
    proto::ACCEPTED.contains(&first).then(|| {
        (
            PROTO.get_or_init(|| proto::encode(&v2_value())).as_slice(),
            proto::MEDIA_TYPE,
        )
    })
}

/// A group version and its document, built when first asked for.
type GroupVersionDoc = ((&'static str, &'static str), OnceLock<Vec<u8>>);

/// The document at `segments` (the path after `/openapi`), built once; None
/// when there is no such document.
pub fn document(segments: &[&str]) -> Option<&'static [u8]> {
    static V2: OnceLock<Vec<u8>> = OnceLock::new();
    static INDEX: OnceLock<Vec<u8>> = OnceLock::new();
    static V3: OnceLock<Vec<GroupVersionDoc>> = OnceLock::new();
    match segments {
        ["v2"] => Some(V2.get_or_init(|| to_bytes(&v2_value()))),
        ["v3"] => Some(INDEX.get_or_init(v3_index)),
        ["v3", rest @ ..] => {
            let (group, version) = match rest {
                ["api", v] => ("", *v),
                ["apis", g, v] => (*g, *v),
                _ => return None,
            };
            let docs = V3.get_or_init(|| {
                group_versions()
                    .into_iter()
                    .map(|gv| (gv, OnceLock::new()))
                    .collect()
            });
            let (_, doc) = docs.iter().find(|(gv, _)| *gv == (group, version))?;
            Some(doc.get_or_init(|| v3_document(group, version)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
