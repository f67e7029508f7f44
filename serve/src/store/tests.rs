use super::*;

#[test]
fn parses_items_with_fields_and_keeps_raw_text() {
    let list = br#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"48213"},"items":[
      {"metadata":{"name":"web-7c9d8f-x2x","namespace":"shop","labels":{"app":"web"}},
       "spec":{"nodeName":"worker-1","restartPolicy":"Always","containers":[{"name":"app","image":"nginx:1.27"}]},
       "status":{"phase":"Running","podIP":"10.244.1.7"}},
      {"metadata":{"name":"api-pending","namespace":"shop"},"spec":{"containers":[]},"status":{"phase":"Pending"}}]}"#;
    let loaded = parse_list("pods", Some("shop"), list).unwrap();
    assert_eq!(loaded.resource_version, "48213");
    assert_eq!(loaded.items.len(), 2);
    // Sorted by name as the API server lists.
    assert_eq!(loaded.items[0].name, "api-pending");
    let first = &loaded.items[1];
    assert_eq!(first.field("pods", "spec.nodeName"), "worker-1");
    assert_eq!(first.field("pods", "status.phase"), "Running");
    assert_eq!(first.field("pods", "metadata.namespace"), "shop");
    assert_eq!(first.labels.get("app").map(String::as_str), Some("web"));
    assert!(loaded.raw(first).contains("nginx:1.27"));
    assert!(loaded.raw(first).starts_with('{') && loaded.raw(first).ends_with('}'));
    assert_eq!(loaded.position("web-7c9d8f-x2x"), Some(1));
    assert_eq!(loaded.position("nope"), None);
    assert_eq!(loaded.items[0].field("pods", "spec.nodeName"), "");
    assert_eq!(loaded.items[0].field("pods", "spec.hostNetwork"), "false");
}

#[test]
fn event_fields_are_indexed() {
    let list = br#"{"items":[{"metadata":{"name":"web.17a","namespace":"shop"},
      "involvedObject":{"kind":"Pod","name":"web","namespace":"shop","uid":"u1"},
      "reason":"BackOff","type":"Warning","source":{"component":"kubelet","host":"worker-1"}}]}"#;
    let loaded = parse_list("events", Some("shop"), list).unwrap();
    let ev = &loaded.items[0];
    assert_eq!(ev.field("events", "involvedObject.kind"), "Pod");
    assert_eq!(ev.field("events", "involvedObject.uid"), "u1");
    assert_eq!(ev.field("events", "reason"), "BackOff");
    assert_eq!(ev.field("events", "source"), "kubelet");
    assert_eq!(ev.field("events", "type"), "Warning");
}

#[test]
fn truncated_list_is_an_error() {
    assert!(parse_list(
        "pods",
        None,
        br#"{"items":[{"metadata":{"name":"a"}"#.to_vec()
    )
    .is_err());
}
