use super::*;

fn parse(segments: &[&str]) -> Value {
    serde_json::from_slice(document(segments).expect("document")).expect("json")
}

/// Every `$ref` in `v`, recursively.
fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                out.push(r);
            }
            m.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[test]
fn every_served_kind_has_a_generated_schema() {
    for k in all_kinds() {
        assert!(
            types::schema_of(k).is_some(),
            "{}: add its k8s-openapi type to serve/src/openapi/types.rs",
            k.plural
        );
    }
}

#[test]
fn core_v3_document_finds_the_pod_and_its_probe() {
    let doc = parse(&["v3", "api", "v1"]);
    assert_eq!(doc["openapi"], "3.0.0");
    let pods = &doc["paths"]["/api/v1/namespaces/{namespace}/pods"]["get"];
    let want = json!({"group": "", "kind": "Pod", "version": "v1"});
    assert_eq!(pods["x-kubernetes-group-version-kind"], want);
    let schemas = &doc["components"]["schemas"];
    let pod = &schemas["io.k8s.api.core.v1.Pod"];
    assert_eq!(pod["x-kubernetes-group-version-kind"], json!([want]));
    assert!(pod["description"].as_str().unwrap().starts_with("Pod is"));
    let probe = &schemas["io.k8s.api.core.v1.Probe"];
    assert!(probe["properties"]["periodSeconds"]["description"]
        .as_str()
        .unwrap()
        .starts_with("How often (in seconds) to perform the probe."));
    let node_read = &doc["paths"]["/api/v1/nodes/{name}"]["get"];
    assert_eq!(node_read["x-kubernetes-group-version-kind"]["kind"], "Node");
    assert!(schemas["io.k8s.api.core.v1.PodList"]["properties"]["items"].is_object());
    // Only this group version's kinds are in it.
    assert!(doc["paths"].get("/apis/apps/v1/deployments").is_none());
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in all {
        let name = r.strip_prefix("#/components/schemas/").expect(r);
        assert!(schemas.get(name).is_some(), "dangling {r}");
    }
}

#[test]
fn index_points_at_every_group_version_document() {
    let index = parse(&["v3"]);
    let paths = index["paths"].as_object().unwrap();
    for p in [
        "api/v1",
        "apis/apps/v1",
        "apis/autoscaling/v2",
        "apis/networking.k8s.io/v1",
    ] {
        let url = paths[p]["serverRelativeURL"].as_str().unwrap();
        assert!(url.starts_with(&format!("/openapi/v3/{p}?hash=")), "{url}");
        let segs: Vec<&str> = p.split('/').collect();
        let doc = parse(&[&["v3"][..], &segs].concat());
        assert!(!doc["paths"].as_object().unwrap().is_empty(), "{p}");
    }
    assert!(document(&["v3", "apis", "apps", "v2"]).is_none());
    assert!(document(&["v3", "apis", "metrics.k8s.io", "v1beta1"]).is_none());
    assert!(document(&["v4"]).is_none());
}

#[test]
fn v2_document_holds_every_kind_with_definitions_refs() {
    let doc = parse(&["v2"]);
    assert_eq!(doc["swagger"], "2.0");
    let defs = &doc["definitions"];
    assert_eq!(
        defs["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"],
        json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
    );
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r.strip_prefix("#/definitions/").expect(r);
        assert!(defs.get(name).is_some(), "dangling {r}");
    }
}

#[test]
fn v2_keeps_descriptions_beside_refs_and_answers_protobuf_to_kubectl() {
    let doc = parse(&["v2"]);
    let spec = &doc["definitions"]["io.k8s.api.core.v1.Pod"]["properties"]["spec"];
    assert_eq!(spec["$ref"], "#/definitions/io.k8s.api.core.v1.PodSpec");
    assert!(spec["description"].is_string());
    let (pb, media) = v2_protobuf("application/com.github.proto-openapi.spec.v2@v1.0+protobuf")
        .expect("protobuf");
    assert_eq!(
        media,
        "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    );
    // Document.swagger = "2.0" comes first.
    assert_eq!(&pb[..5], b"\x0a\x032.0");
    assert!(v2_protobuf("application/json, */*").is_none());
    assert!(v2_protobuf("").is_none());
}
