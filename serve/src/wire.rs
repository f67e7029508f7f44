//! Reading the two request bodies serve accepts (`SelfSubjectAccessReview`,
//! `SelfSubjectRulesReview`) in Kubernetes' protobuf encoding.
//!
//! kubectl (client-go 1.33 and later) sends built-in kinds as
//! `application/vnd.kubernetes.protobuf`: the magic `k8s\0`, then a
//! `runtime.Unknown` (field 1 `typeMeta` {1 `apiVersion`, 2 `kind`}, field 2
//! `raw`) whose `raw` is the object. Field numbers are those of
//! `k8s.io/api/authorization/v1/generated.proto`. Only the spec is read and
//! turned into the JSON shape the JSON path reads, so both encodings share
//! one answer; everything else (metadata, status) is skipped. The answer is
//! JSON, which the client's `Accept` also allows.

use serde_json::{json, Map, Value};

use crate::errors::ApiError;

/// The protobuf media type.
pub const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

/// The envelope's first bytes.
const MAGIC: &[u8] = b"k8s\0";

/// One field of a message: its number and, for length-delimited fields,
/// the bytes (varints and fixed-width fields are skipped as values).
struct Field<'a> {
    number: u64,
    bytes: Option<&'a [u8]>,
}

fn malformed(what: &str) -> ApiError {
    ApiError::bad_request(format!("the protobuf request body is malformed: {what}"))
}

fn varint(buf: &mut &[u8]) -> Result<u64, ApiError> {
    let mut out = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = buf
            .split_first()
            .ok_or_else(|| malformed("truncated varint"))?;
        *buf = rest;
        out |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(out);
        }
    }
    Err(malformed("varint longer than 64 bits"))
}

fn take<'a>(buf: &mut &'a [u8], n: u64) -> Result<&'a [u8], ApiError> {
    let n = usize::try_from(n).map_err(|_| malformed("length out of range"))?;
    if n > buf.len() {
        return Err(malformed("field longer than the body"));
    }
    let (head, rest) = buf.split_at(n);
    *buf = rest;
    Ok(head)
}

/// The fields of one message, in order.
fn fields(mut buf: &[u8]) -> Result<Vec<Field<'_>>, ApiError> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let key = varint(&mut buf)?;
        let number = key >> 3;
        let bytes = match key & 7 {
            0 => {
                varint(&mut buf)?;
                None
            }
            1 => {
                take(&mut buf, 8)?;
                None
            }
            2 => {
                let len = varint(&mut buf)?;
                Some(take(&mut buf, len)?)
            }
            5 => {
                take(&mut buf, 4)?;
                None
            }
            other => return Err(malformed(&format!("unsupported wire type {other}"))),
        };
        out.push(Field { number, bytes });
    }
    Ok(out)
}

/// The last length-delimited field `number` (proto2: the last one wins).
fn field(buf: &[u8], number: u64) -> Result<Option<&[u8]>, ApiError> {
    Ok(fields(buf)?
        .into_iter()
        .filter(|f| f.number == number)
        .filter_map(|f| f.bytes)
        .next_back())
}

fn text(bytes: &[u8]) -> Result<String, ApiError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| malformed("a string is not UTF-8"))
}

/// The string fields of a message as a JSON object, by `(number, name)`.
fn strings(buf: &[u8], names: &[(u64, &str)]) -> Result<Value, ApiError> {
    let mut obj = Map::new();
    for (number, name) in names {
        if let Some(b) = field(buf, *number)? {
            obj.insert((*name).to_string(), Value::String(text(b)?));
        }
    }
    Ok(Value::Object(obj))
}

/// `ResourceAttributes` fields read (generated.proto numbers).
const RESOURCE_ATTRIBUTES: &[(u64, &str)] = &[
    (1, "namespace"),
    (2, "verb"),
    (3, "group"),
    (4, "version"),
    (5, "resource"),
    (6, "subresource"),
    (7, "name"),
];

/// `NonResourceAttributes` fields read.
const NON_RESOURCE_ATTRIBUTES: &[(u64, &str)] = &[(1, "path"), (2, "verb")];

/// Decodes a protobuf review body into the JSON form of the same object
/// (`kind`, `apiVersion`, `spec`).
pub fn decode_review(body: &[u8]) -> Result<Value, ApiError> {
    let envelope = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| malformed("it does not start with the k8s protobuf magic"))?;
    let type_meta = field(envelope, 1)?.unwrap_or_default();
    let api_version = field(type_meta, 1)?.map(text).transpose()?;
    let kind = field(type_meta, 2)?.map(text).transpose()?;
    let raw = field(envelope, 2)?.unwrap_or_default();
    let spec_bytes = field(raw, 2)?.unwrap_or_default();
    let spec = match kind.as_deref() {
        Some("SelfSubjectRulesReview") => strings(spec_bytes, &[(1, "namespace")])?,
        Some("SelfSubjectAccessReview") => {
            let mut spec = Map::new();
            if let Some(r) = field(spec_bytes, 1)? {
                spec.insert(
                    "resourceAttributes".into(),
                    strings(r, RESOURCE_ATTRIBUTES)?,
                );
            }
            if let Some(n) = field(spec_bytes, 2)? {
                spec.insert(
                    "nonResourceAttributes".into(),
                    strings(n, NON_RESOURCE_ATTRIBUTES)?,
                );
            }
            Value::Object(spec)
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "expected a SelfSubjectAccessReview or SelfSubjectRulesReview, got kind {other:?}"
            )))
        }
    };
    Ok(json!({"kind": kind, "apiVersion": api_version, "spec": spec}))
}

/// A review body in either encoding, by its `Content-Type`, as JSON.
pub fn decode_body(content_type: Option<&str>, body: &[u8]) -> Result<Value, ApiError> {
    let media = content_type
        .and_then(|c| c.split(';').next())
        .map(str::trim)
        .unwrap_or("application/json");
    if media.eq_ignore_ascii_case(PROTOBUF) {
        return decode_review(body);
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn len_field(number: u64, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![u8::try_from(number << 3 | 2).unwrap()];
        out.push(u8::try_from(bytes.len()).unwrap());
        out.extend_from_slice(bytes);
        out
    }

    fn envelope(kind: &str, spec: &[u8]) -> Vec<u8> {
        let type_meta = [
            len_field(1, b"authorization.k8s.io/v1"),
            len_field(2, kind.as_bytes()),
        ]
        .concat();
        // metadata (empty), spec, and a status with a varint to skip.
        let raw = [
            len_field(1, b""),
            len_field(2, spec),
            vec![3 << 3 | 2, 2, 8, 1],
        ]
        .concat();
        [MAGIC.to_vec(), len_field(1, &type_meta), len_field(2, &raw)].concat()
    }

    #[test]
    fn access_review_as_kubectl_sends_it() {
        let attrs = [
            len_field(1, b"shop"),
            len_field(2, b"get"),
            len_field(5, b"pods"),
            len_field(6, b"log"),
        ]
        .concat();
        let body = envelope("SelfSubjectAccessReview", &len_field(1, &attrs));
        let v = decode_body(Some("application/vnd.kubernetes.protobuf"), &body).unwrap();
        assert_eq!(v["kind"], "SelfSubjectAccessReview");
        assert_eq!(
            v["spec"]["resourceAttributes"],
            json!({"namespace": "shop", "verb": "get", "resource": "pods", "subresource": "log"})
        );
        let non = [len_field(1, b"/version"), len_field(2, b"get")].concat();
        let body = envelope("SelfSubjectAccessReview", &len_field(2, &non));
        let v = decode_review(&body).unwrap();
        assert_eq!(v["spec"]["nonResourceAttributes"]["path"], "/version");
    }

    #[test]
    fn rules_review_and_bad_bodies() {
        let body = envelope("SelfSubjectRulesReview", &len_field(1, b"web"));
        assert_eq!(decode_review(&body).unwrap()["spec"]["namespace"], "web");
        assert_eq!(decode_review(b"{}").unwrap_err().code, 400);
        let mut cut = body.clone();
        cut.truncate(body.len() - 3);
        assert_eq!(decode_review(&cut).unwrap_err().code, 400);
        let other = envelope("Pod", b"");
        assert!(decode_review(&other).unwrap_err().message.contains("Pod"));
        assert_eq!(
            decode_body(None, br#"{"spec":{}}"#).unwrap()["spec"],
            json!({})
        );
        assert_eq!(
            decode_body(Some("application/json"), b"x")
                .unwrap_err()
                .code,
            400
        );
    }
}
