//! Lists written as YAML (`kubectl cluster-info dump -o yaml`), read as
//! the JSON text the rest of conversion takes.
//!
//! kubectl names the files `nodes.yaml`, `<ns>/pods.yaml`, … after the
//! output format; YAML is recognised from the content all the same (a list
//! whose first byte is neither `{` nor `[`), so a renamed file reads too.

use serde_json::Value;

/// Whether `bytes` are YAML rather than JSON (a JSON list starts with `{`
/// or `[`).
pub fn is_yaml(bytes: &[u8]) -> bool {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    first.is_some_and(|b| *b != b'{' && *b != b'[')
}

/// The YAML document in `bytes` as compact JSON text, or why it is not
/// YAML. The parser's budgets are raised with the input's size (already
/// capped by the source limits): a list of thousands of pods has millions
/// of YAML nodes. Anchors and aliases keep the parser's default caps.
pub fn to_json(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let size = bytes.len().max(1 << 20);
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_events: size,
            max_nodes: size,
            max_total_scalar_bytes: size,
            max_reader_input_bytes: Some(size),
        },
    };
    let value: Value =
        serde_saphyr::from_slice_with_options(bytes, options).map_err(|e| e.to_string())?;
    serde_json::to_vec(&value).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_yaml_lists_become_json() {
        let yaml = b"apiVersion: v1\nitems:\n- metadata:\n    creationTimestamp: \"2020-04-01T10:00:00Z\"\n    name: web-1\n    labels:\n      on: \"yes\"\n  spec:\n    containers:\n    - name: app\n      ports:\n      - containerPort: 8080\nkind: PodList\nmetadata:\n  resourceVersion: \"12\"\n";
        assert!(is_yaml(yaml));
        let json: Value = serde_json::from_slice(&to_json(yaml).unwrap()).unwrap();
        assert_eq!(json["kind"], "PodList");
        let pod = &json["items"][0];
        assert_eq!(pod["metadata"]["name"], "web-1");
        assert_eq!(pod["metadata"]["creationTimestamp"], "2020-04-01T10:00:00Z");
        assert_eq!(pod["metadata"]["labels"]["on"], "yes");
        assert_eq!(
            pod["spec"]["containers"][0]["ports"][0]["containerPort"],
            8080
        );
        assert_eq!(json["metadata"]["resourceVersion"], "12");
    }

    #[test]
    fn json_is_not_taken_for_yaml_and_bad_yaml_is_refused() {
        assert!(!is_yaml(b"  {\"items\": []}"));
        assert!(!is_yaml(b"\n[]"));
        assert!(!is_yaml(b"   "));
        assert!(to_json(b"items: [unclosed").is_err());
    }
}
