//! `/openapi/v2` as protocol buffers (gnostic's `openapi.v2.Document`, the
//! only form kubectl asks for, with
//! `application/com.github.proto-openapi.spec.v2@v1.0+protobuf`), written
//! from the JSON document: the fields kubectl reads (definitions with their
//! properties, types, references, descriptions and `x-` extensions, and the
//! paths' `get` operations). Field numbers are those of
//! `openapiv2/OpenAPIv2.proto`.

use serde_json::Value;

/// The media types a client asks for the protobuf form with (kubectl sends
/// the older `@` spelling, which is not a valid media type to answer with).
pub const ACCEPTED: [&str; 2] = [
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
];

/// The media type of the protobuf answer, as kube-openapi labels it.
pub const MEDIA_TYPE: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// A protobuf message being written.
#[derive(Default)]
struct Msg(Vec<u8>);

impl Msg {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn bytes(&mut self, field: u32, data: &[u8]) {
        self.varint(u64::from(field) << 3 | 2);
        self.varint(data.len() as u64);
        self.0.extend_from_slice(data);
    }

    fn string(&mut self, field: u32, s: &str) {
        if !s.is_empty() {
            self.bytes(field, s.as_bytes());
        }
    }

    fn message(&mut self, field: u32, m: Msg) {
        self.bytes(field, &m.0);
    }

    fn boolean(&mut self, field: u32, b: bool) {
        if b {
            self.varint(u64::from(field) << 3);
            self.varint(1);
        }
    }
}

/// `Any{yaml}`: JSON text is YAML.
fn any(v: &Value) -> Msg {
    let mut m = Msg::default();
    m.string(2, &v.to_string());
    m
}

/// `NamedAny{name, value}`.
fn named_any(name: &str, v: &Value) -> Msg {
    let mut m = Msg::default();
    m.string(1, name);
    m.message(2, any(v));
    m
}

fn str_of<'a>(obj: &'a serde_json::Map<String, Value>, key: &str) -> &'a str {
    obj.get(key).and_then(Value::as_str).unwrap_or("")
}

/// `Schema.additional_properties` (21) and `Schema.type` (22).
fn type_and_map(m: &mut Msg, obj: &serde_json::Map<String, Value>) {
    match obj.get("additionalProperties") {
        Some(Value::Bool(b)) => {
            let mut item = Msg::default();
            item.boolean(2, *b);
            m.message(21, item);
        }
        Some(s @ Value::Object(_)) => {
            let mut item = Msg::default();
            item.message(1, schema(s));
            m.message(21, item);
        }
        _ => {}
    }
    let types: Vec<&str> = match obj.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() {
        let mut t = Msg::default();
        for ty in types {
            t.string(1, ty);
        }
        m.message(22, t);
    }
}

/// `Schema` (fields 1-31).
fn schema(v: &Value) -> Msg {
    let mut m = Msg::default();
    let Some(obj) = v.as_object() else {
        return m;
    };
    m.string(1, str_of(obj, "$ref"));
    m.string(2, str_of(obj, "format"));
    m.string(3, str_of(obj, "title"));
    m.string(4, str_of(obj, "description"));
    if let Some(d) = obj.get("default") {
        m.message(5, any(d));
    }
    for r in obj
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.string(19, r.as_str().unwrap_or(""));
    }
    for e in obj
        .get("enum")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(20, any(e));
    }
    type_and_map(&mut m, obj);
    if let Some(items) = obj.get("items") {
        let mut it = Msg::default();
        it.message(1, schema(items));
        m.message(23, it);
    }
    for s in obj
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(24, schema(s));
    }
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        let mut p = Msg::default();
        for (name, s) in props {
            p.message(1, named_schema(name, s));
        }
        m.message(25, p);
    }
    m.boolean(
        27,
        obj.get("readOnly")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    );
    for (k, x) in obj.iter().filter(|(k, _)| k.starts_with("x-")) {
        m.message(31, named_any(k, x));
    }
    m
}

/// `NamedSchema{name, value}`.
fn named_schema(name: &str, s: &Value) -> Msg {
    let mut m = Msg::default();
    m.string(1, name);
    m.message(2, schema(s));
    m
}

/// `Operation`: description, the `200` response and the `x-` extensions.
fn operation(op: &Value) -> Msg {
    let mut m = Msg::default();
    let Some(obj) = op.as_object() else {
        return m;
    };
    m.string(3, str_of(obj, "description"));
    if let Some(codes) = obj.get("responses").and_then(Value::as_object) {
        let mut responses = Msg::default();
        for (code, r) in codes {
            let mut response = Msg::default();
            response.string(1, r["description"].as_str().unwrap_or(""));
            if let Some(s) = r.get("schema") {
                let mut item = Msg::default();
                item.message(1, schema(s));
                response.message(2, item);
            }
            let mut value = Msg::default();
            value.message(1, response);
            let mut named = Msg::default();
            named.string(1, code);
            named.message(2, value);
            responses.message(1, named);
        }
        m.message(9, responses);
    }
    for (k, x) in obj.iter().filter(|(k, _)| k.starts_with("x-")) {
        m.message(13, named_any(k, x));
    }
    m
}

/// The protobuf form of a Swagger 2.0 JSON document.
pub fn encode(doc: &Value) -> Vec<u8> {
    let mut m = Msg::default();
    m.string(1, doc["swagger"].as_str().unwrap_or("2.0"));
    let mut info = Msg::default();
    info.string(1, doc["info"]["title"].as_str().unwrap_or(""));
    info.string(2, doc["info"]["version"].as_str().unwrap_or(""));
    m.message(2, info);
    if let Some(paths) = doc["paths"].as_object() {
        let mut p = Msg::default();
        for (path, item) in paths {
            let mut path_item = Msg::default();
            if let Some(get) = item.get("get") {
                path_item.message(2, operation(get));
            }
            let mut named = Msg::default();
            named.string(1, path);
            named.message(2, path_item);
            p.message(2, named);
        }
        m.message(8, p);
    }
    if let Some(defs) = doc["definitions"].as_object() {
        let mut d = Msg::default();
        for (name, s) in defs {
            d.message(1, named_schema(name, s));
        }
        m.message(9, d);
    }
    m.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_are_written_with_their_numbers_and_lengths() {
        let doc = json!({"swagger": "2.0", "info": {"title": "T", "version": "v"},
            "definitions": {"a.B": {"type": "object", "description": "d", "x-k": [1]}}});
        let bytes = encode(&doc);
        // swagger = 1 (tag 0x0a), length 3, "2.0".
        assert_eq!(&bytes[..5], b"\x0a\x032.0");
        // info = 2 (tag 0x12) holding title = 1 and version = 2.
        assert_eq!(&bytes[5..13], b"\x12\x06\x0a\x01T\x12\x01v");
        let text = String::from_utf8_lossy(&bytes);
        for part in ["a.B", "object", "x-k", "[1]"] {
            assert!(text.contains(part), "{part}");
        }
    }

    #[test]
    fn long_lengths_use_varints() {
        let mut m = Msg::default();
        m.string(4, &"x".repeat(300));
        assert_eq!(&m.0[..3], &[0x22, 0xac, 0x02]);
        assert_eq!(m.0.len(), 303);
    }
}
