//! The fast path of list normalisation: the list's text is rewritten
//! without building a `serde_json::Value`.
//!
//! One byte pass strips the indentation (troubleshoot and kubectl indent
//! their lists) and notes where the top-level `metadata` and `items` values
//! and every item start; one `serde` pass over the compact text validates
//! it and reads, through a borrowed probe, only what conversion needs (are
//! `kind` and `apiVersion` there, the object's timestamps, a pod's name and
//! namespace). The list is then written from slices of the compact text,
//! with `"kind":…,"apiVersion":…,` inserted at the start of the items that
//! lack them. Anything this path does not handle (a list that is no JSON or
//! has odd field types, Ingresses, which may need upgrading) returns `None`
//! and the caller takes the `Value` path, so both give the same list.

use std::ops::Range;

use chrono::{DateTime, Utc};
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};

use super::lists::{parse_time, Normalised};
use crate::layout::ResourceKind;

/// Where the parts of a list are in its compact text.
#[derive(Debug, Default)]
struct Shape {
    /// The document is a bare array (troubleshoot before 2022).
    top_array: bool,
    /// The top-level `metadata` value.
    metadata: Option<Range<usize>>,
    /// The `items` array, brackets included (the whole text for a bare
    /// array).
    items: Option<Range<usize>>,
    /// The first byte of every item.
    item_starts: Vec<usize>,
}

/// Which top-level value the scanner is inside of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Items,
    Metadata,
    Other,
}

/// Copies `src` into `dst` without the whitespace between tokens and
/// returns where the list's parts are in `dst`. Trusts nothing: a text that
/// is no JSON gives a meaningless shape, which the `serde` pass that follows
/// rejects.
fn compact(src: &[u8], dst: &mut Vec<u8>) -> Shape {
    let mut scan = Scanner::default();
    let mut i = 0usize;
    while i < src.len() {
        let b = src[i];
        i += 1;
        match b {
            b' ' | b'\n' | b'\r' | b'\t' => {}
            b'"' => {
                scan.value_starts(dst.len());
                if scan.depth == 1 {
                    scan.key_start = dst.len();
                }
                dst.push(b);
                i = copy_string(src, i, dst);
            }
            _ => scan.token(b, dst),
        }
    }
    scan.shape
}

/// The structure [`compact`] tracks outside strings.
#[derive(Default)]
struct Scanner {
    shape: Shape,
    depth: usize,
    /// Where the last string at depth 1 started (a key, when `:` follows).
    key_start: usize,
    /// The top-level key whose value is being copied, and where it started.
    pending: Option<(Key, usize)>,
    /// The depth inside the items array (0: not in it).
    items_depth: usize,
    /// The next value starts an item.
    expect_item: bool,
}

impl Scanner {
    /// A value starts at `at` in the output: an item, if one is expected.
    fn value_starts(&mut self, at: usize) {
        if self.expect_item {
            self.shape.item_starts.push(at);
            self.expect_item = false;
        }
    }

    /// The top-level value being copied ends at `end`.
    fn end_value(&mut self, end: usize) {
        match self.pending.take() {
            Some((Key::Items, start)) => self.shape.items = Some(start..end),
            Some((Key::Metadata, start)) => self.shape.metadata = Some(start..end),
            _ => {}
        }
    }

    /// One byte outside strings and whitespace, copied to `dst`.
    fn token(&mut self, b: u8, dst: &mut Vec<u8>) {
        let top_object = !self.shape.top_array;
        match b {
            b'[' if dst.is_empty() => {
                self.shape.top_array = true;
                self.items_depth = 1;
                self.expect_item = true;
                self.depth = 1;
            }
            b'{' | b'[' => {
                self.value_starts(dst.len());
                self.depth += 1;
                let items = matches!(self.pending, Some((Key::Items, _)));
                if b == b'[' && self.depth == 2 && items {
                    self.items_depth = 2;
                    self.expect_item = true;
                }
            }
            b'}' | b']' => {
                self.expect_item = false;
                if self.depth == 1 && b == b'}' {
                    self.end_value(dst.len());
                }
                if b == b']' && self.depth == self.items_depth {
                    self.items_depth = 0;
                }
                self.depth = self.depth.saturating_sub(1);
                if self.depth == 0 && self.shape.top_array {
                    self.shape.items = Some(0..dst.len() + 1);
                }
            }
            b':' if self.depth == 1 && top_object => {
                let key = match &dst[self.key_start.min(dst.len())..] {
                    b"\"items\"" => Key::Items,
                    b"\"metadata\"" => Key::Metadata,
                    _ => Key::Other,
                };
                self.pending = Some((key, dst.len() + 1));
            }
            b':' => {}
            b',' => {
                if self.depth == 1 && top_object {
                    self.end_value(dst.len());
                }
                if self.items_depth > 0 && self.depth == self.items_depth {
                    self.expect_item = true;
                }
            }
            _ => self.value_starts(dst.len()),
        }
        dst.push(b);
    }
}

/// Copies the rest of a string whose opening quote was at `src[i - 1]`;
/// returns the index after its closing quote.
fn copy_string(src: &[u8], mut i: usize, dst: &mut Vec<u8>) -> usize {
    loop {
        let rest = &src[i.min(src.len())..];
        let Some(n) = rest.iter().position(|&c| c == b'"' || c == b'\\') else {
            dst.extend_from_slice(rest);
            return src.len();
        };
        dst.extend_from_slice(&rest[..=n]);
        i += n + 1;
        if rest[n] == b'"' {
            return i;
        }
        // An escape: the next byte is copied whatever it is.
        if let Some(&c) = src.get(i) {
            dst.push(c);
            i += 1;
        }
    }
}

/// A field whose presence is all that matters (even as `null`).
#[derive(Debug, Default, Clone, Copy)]
struct Present(bool);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Present, D::Error> {
        IgnoredAny::deserialize(d).map(|_| Present(true))
    }
}

/// A timestamp string (`null` is none). Borrowed: a string with an escape
/// fails the probe and the list takes the `Value` path (timestamps and
/// object names never have one).
type Time<'a> = Option<&'a str>;

/// What conversion reads of one item.
#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(default)]
    kind: Present,
    #[serde(default, rename = "apiVersion")]
    api_version: Present,
    #[serde(default, borrow)]
    metadata: Option<MetaProbe<'a>>,
    #[serde(default, borrow, rename = "lastTimestamp")]
    last_timestamp: Time<'a>,
    #[serde(default, borrow, rename = "eventTime")]
    event_time: Time<'a>,
    #[serde(default, borrow)]
    series: Option<SeriesProbe<'a>>,
    #[serde(default, borrow)]
    status: Option<StatusProbe<'a>>,
}

#[derive(Deserialize)]
struct MetaProbe<'a> {
    #[serde(default, borrow)]
    name: Option<&'a str>,
    #[serde(default, borrow)]
    namespace: Option<&'a str>,
    #[serde(default, borrow, rename = "creationTimestamp")]
    creation: Time<'a>,
}

#[derive(Deserialize)]
struct SeriesProbe<'a> {
    #[serde(default, borrow, rename = "lastObservedTime")]
    last_observed: Time<'a>,
}

#[derive(Deserialize)]
struct StatusProbe<'a> {
    #[serde(default, borrow)]
    conditions: Option<Vec<ConditionProbe<'a>>>,
    #[serde(default, borrow, rename = "containerStatuses")]
    container_statuses: Option<Vec<ContainerStatusProbe<'a>>>,
}

#[derive(Deserialize)]
struct ConditionProbe<'a> {
    #[serde(default, borrow, rename = "lastTransitionTime")]
    transition: Time<'a>,
    #[serde(default, borrow, rename = "lastHeartbeatTime")]
    heartbeat: Time<'a>,
    #[serde(default, borrow, rename = "lastUpdateTime")]
    update: Time<'a>,
}

#[derive(Deserialize)]
struct ContainerStatusProbe<'a> {
    #[serde(default, borrow)]
    state: Option<StateProbe<'a>>,
    #[serde(default, borrow, rename = "lastState")]
    last_state: Option<StateProbe<'a>>,
}

#[derive(Deserialize)]
struct StateProbe<'a> {
    #[serde(default, borrow)]
    running: Option<RunningProbe<'a>>,
    #[serde(default, borrow)]
    terminated: Option<TerminatedProbe<'a>>,
}

#[derive(Deserialize)]
struct RunningProbe<'a> {
    #[serde(default, borrow, rename = "startedAt")]
    started: Time<'a>,
}

#[derive(Deserialize)]
struct TerminatedProbe<'a> {
    #[serde(default, borrow, rename = "finishedAt")]
    finished: Time<'a>,
}

/// The top level of a list object (its other fields are validated and
/// dropped, as the `Value` path drops them).
#[derive(Deserialize)]
struct ListProbe<'a> {
    #[serde(default, borrow)]
    items: Option<Vec<Probe<'a>>>,
}

impl Probe<'_> {
    /// The same timestamps as [`super::lists`]' `latest_time`.
    fn latest(&self) -> Option<DateTime<Utc>> {
        let t = |v: Time<'_>| v.and_then(parse_time);
        let mut latest = self.metadata.as_ref().and_then(|m| t(m.creation));
        latest = latest.max(t(self.last_timestamp));
        latest = latest.max(t(self.event_time));
        latest = latest.max(self.series.as_ref().and_then(|s| t(s.last_observed)));
        let Some(status) = &self.status else {
            return latest;
        };
        for c in status.conditions.iter().flatten() {
            latest = latest.max(t(c.transition)).max(t(c.heartbeat));
            latest = latest.max(t(c.update));
        }
        for cs in status.container_statuses.iter().flatten() {
            if let Some(state) = &cs.state {
                let running = state.running.as_ref().and_then(|r| t(r.started));
                let terminated = state.terminated.as_ref().and_then(|r| t(r.finished));
                latest = latest.max(running).max(terminated);
            }
            let last = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref());
            latest = latest.max(last.and_then(|r| t(r.finished)));
        }
        latest
    }
}

/// Reusable buffers of [`normalise_text`] (one conversion reads hundreds
/// of lists: growing fresh buffers each time costs page faults).
#[derive(Default)]
pub struct Scratch {
    compact: Vec<u8>,
}

/// Writes the normalised list of `src` (a list file of `kind`) into `out`
/// (cleared first), compact and ending in a newline. `None` when this path
/// does not handle the file: the caller falls back to the `Value` path.
pub fn normalise_text(
    src: &[u8],
    kind: &ResourceKind,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> Option<Normalised> {
    if kind.kind == "Ingress" {
        return None;
    }
    let text = &mut scratch.compact;
    text.clear();
    text.reserve(src.len());
    let shape = compact(src, text);
    let probes: Vec<Probe<'_>> = if shape.top_array {
        serde_json::from_slice(text).ok()?
    } else if text.first() == Some(&b'{') {
        let list: ListProbe<'_> = serde_json::from_slice(text).ok()?;
        list.items.unwrap_or_default()
    } else {
        return None;
    };
    // `items` absent or null is an empty list.
    let items = match (&shape.items, probes.is_empty()) {
        (Some(r), _) if text.get(r.start) == Some(&b'[') => r.clone(),
        (_, true) => 0..0,
        _ => return None,
    };
    if probes.len() != shape.item_starts.len() && !items.is_empty() {
        return None;
    }
    out.clear();
    out.reserve(text.len() + 64 + 32 * probes.len());
    write_header(out, kind, &shape, text);
    if items.is_empty() {
        out.extend_from_slice(b"[]");
    } else if probes.iter().all(|p| p.kind.0 && p.api_version.0) {
        out.extend_from_slice(&text[items.clone()]);
    } else {
        write_items(out, kind, text, &shape.item_starts, items.end, &probes);
    }
    out.extend_from_slice(b"}\n");
    let mut normalised = Normalised {
        items: probes.len() as u64,
        latest: None,
        pods: Vec::new(),
    };
    for p in &probes {
        normalised.latest = normalised.latest.max(p.latest());
        if kind.kind == "Pod" {
            let meta = p.metadata.as_ref();
            if let Some(name) = meta.and_then(|m| m.name) {
                let ns = meta.and_then(|m| m.namespace);
                normalised
                    .pods
                    .push((name.to_string(), ns.map(str::to_string)));
            }
        }
    }
    Some(normalised)
}

/// `{"kind":"<Kind>List","apiVersion":…,"metadata":…,"items":` (metadata
/// kept when it is an object).
fn write_header(out: &mut Vec<u8>, kind: &ResourceKind, shape: &Shape, text: &[u8]) {
    out.extend_from_slice(b"{\"kind\":");
    push_json_string(out, &kind.list_kind());
    out.extend_from_slice(b",\"apiVersion\":");
    push_json_string(out, &kind.api_version());
    out.extend_from_slice(b",\"metadata\":");
    match shape.metadata.as_ref().map(|r| &text[r.clone()]) {
        Some(m) if m.first() == Some(&b'{') => out.extend_from_slice(m),
        _ => out.extend_from_slice(b"{}"),
    }
    out.extend_from_slice(b",\"items\":");
}

/// The items one by one, `kind` and `apiVersion` inserted where missing.
fn write_items(
    out: &mut Vec<u8>,
    kind: &ResourceKind,
    text: &[u8],
    starts: &[usize],
    items_end: usize,
    probes: &[Probe<'_>],
) {
    out.push(b'[');
    for (i, (start, probe)) in starts.iter().zip(probes).enumerate() {
        // Items are separated by one comma in the compact text; the last
        // ends before the closing bracket.
        let end = starts.get(i + 1).map_or(items_end - 1, |next| next - 1);
        let item = &text[*start..end];
        if i > 0 {
            out.push(b',');
        }
        let Some(body) = item.strip_prefix(b"{") else {
            out.extend_from_slice(item);
            continue;
        };
        out.push(b'{');
        let mut added = false;
        if !probe.kind.0 {
            out.extend_from_slice(b"\"kind\":");
            push_json_string(out, kind.kind);
            added = true;
        }
        if !probe.api_version.0 {
            if added {
                out.push(b',');
            }
            out.extend_from_slice(b"\"apiVersion\":");
            push_json_string(out, &kind.api_version());
            added = true;
        }
        if added && body != b"}" {
            out.push(b',');
        }
        out.extend_from_slice(body);
    }
    out.push(b']');
}

fn push_json_string(out: &mut Vec<u8>, s: &str) {
    // Serializing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape_of(src: &str) -> (String, Shape) {
        let mut dst = Vec::new();
        let shape = compact(src.as_bytes(), &mut dst);
        (String::from_utf8(dst).unwrap(), shape)
    }

    #[test]
    fn compacting_keeps_strings_and_finds_the_parts() {
        let src = "{\n  \"kind\": \"PodList\",\n  \"metadata\": { \"a\" : \"x \\\" y\" },\n  \"items\": [\n    {\"items\": [1, 2]},\n    \"s, t\" ,\n 3\n  ]\n}\n";
        let (text, shape) = shape_of(src);
        assert_eq!(
            text,
            r#"{"kind":"PodList","metadata":{"a":"x \" y"},"items":[{"items":[1,2]},"s, t",3]}"#
        );
        assert_eq!(&text[shape.metadata.clone().unwrap()], r#"{"a":"x \" y"}"#);
        let items = shape.items.clone().unwrap();
        assert_eq!(&text[items], r#"[{"items":[1,2]},"s, t",3]"#);
        let starts: Vec<&str> = shape
            .item_starts
            .iter()
            .map(|s| &text[*s..*s + 1])
            .collect();
        assert_eq!(starts, ["{", "\"", "3"]);
        assert!(!shape.top_array);
    }

    #[test]
    fn a_bare_array_is_its_own_items() {
        let (text, shape) = shape_of(" [ {\"a\": 1} , [ ] ] ");
        assert_eq!(text, r#"[{"a":1},[]]"#);
        assert!(shape.top_array);
        assert_eq!(shape.items, Some(0..text.len()));
        assert_eq!(shape.item_starts, [1, 9]);
        let (_, empty) = shape_of("[]");
        assert!(empty.item_starts.is_empty());
    }
}
