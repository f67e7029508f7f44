//! Feeding node allocation (`derived/node-allocation.json`).
//!
//! Allocation must count *every* non-terminated pod bound to a node, whatever
//! the namespace scope, exactly as `kubectl describe node` does, and the file
//! lists each counted pod ("Non-terminated Pods"), so its size grows with the
//! cluster. To keep the collector's memory flat, nothing per pod stays in
//! memory while collecting: each counted pod is reduced to the fields the
//! computation reads ([`slim_pod`]) and appended to an anonymous temporary
//! file (the spool); memory keeps only, per node, where it and its pods are
//! in the spool (16 bytes a pod). At the
//! end the file is written node by node straight into the bundle, each node
//! computed by [`kpm_semantics::allocation::AllocationBuilder`] from its own
//! pods only, so one node's pods are in memory at a time.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{Node, Pod};
use serde::Deserialize;
use serde_json::{Map, Value};

use kpm_bundle::Outcome;
use kpm_semantics::allocation::AllocationBuilder;

use crate::outcome::{Failure, FailureClass};

/// Where one pod sits in the spool, and which list read fed it.
#[derive(Debug, Clone, Copy)]
struct Spooled {
    offset: u64,
    len: u32,
    read: u32,
}

/// Collected inputs of the node allocation.
#[derive(Debug)]
pub struct AllocFeed {
    now: DateTime<Utc>,
    /// Where each slim node is in the spool, by name (a repeated name
    /// replaces the earlier one, as the builder does). Spooled too: a
    /// node's allocatable and capacity cost kilobytes as parsed objects.
    nodes: BTreeMap<String, Spooled>,
    pods_by_node: BTreeMap<String, Vec<Spooled>>,
    spool: Option<BufWriter<File>>,
    spool_len: u64,
    spool_error: Option<String>,
    abandoned: HashSet<u32>,
    next_read: u32,
    unreadable: u64,
    missing_namespaces: Vec<String>,
    pods_failure: Option<Failure>,
    nodes_failure: Option<Failure>,
    written: bool,
}

/// What [`AllocFeed::write`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Nodes in the file.
    pub nodes: u64,
    /// Pods counted.
    pub pods: u64,
    /// Step message (says when the numbers undercount).
    pub message: String,
}

fn keep(src: &Value, keys: &[&str]) -> Value {
    let mut out = Map::new();
    if let Value::Object(map) = src {
        for k in keys {
            if let Some(v) = map.get(*k) {
                out.insert((*k).to_string(), v.clone());
            }
        }
    }
    Value::Object(out)
}

fn keep_each(src: Option<&Value>, keys: &[&str]) -> Option<Value> {
    let list = src?.as_array()?;
    Some(Value::Array(list.iter().map(|c| keep(c, keys)).collect()))
}

/// The pod reduced to what `kubectl describe node`'s allocation reads: names
/// and creation time, node, phase, every container's and init container's
/// resources (and the init containers' `restartPolicy`, which makes a
/// sidecar), `spec.overhead`, and the in-place resize state
/// (`status.resize`, `containerStatuses[].resources`). Anything else would
/// only cost memory and disk.
pub fn slim_pod(pod: &Value) -> Value {
    let mut out = Map::new();
    if let Some(meta) = pod.get("metadata") {
        out.insert(
            "metadata".into(),
            keep(meta, &["name", "namespace", "creationTimestamp"]),
        );
    }
    if let Some(spec) = pod.get("spec") {
        let mut s = match keep(spec, &["nodeName", "overhead"]) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        if let Some(c) = keep_each(spec.get("containers"), &["name", "resources"]) {
            s.insert("containers".into(), c);
        }
        if let Some(c) = keep_each(
            spec.get("initContainers"),
            &["name", "resources", "restartPolicy"],
        ) {
            s.insert("initContainers".into(), c);
        }
        out.insert("spec".into(), Value::Object(s));
    }
    if let Some(status) = pod.get("status") {
        let mut s = match keep(status, &["phase", "resize"]) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        if let Some(c) = keep_each(
            status.get("containerStatuses"),
            &[
                "name",
                "image",
                "imageID",
                "ready",
                "restartCount",
                "resources",
            ],
        ) {
            s.insert("containerStatuses".into(), c);
        }
        out.insert("status".into(), Value::Object(s));
    }
    Value::Object(out)
}

/// The node reduced to its name, allocatable and capacity.
fn slim_node(node: &Value) -> Value {
    let mut out = Map::new();
    if let Some(meta) = node.get("metadata") {
        out.insert("metadata".into(), keep(meta, &["name"]));
    }
    if let Some(status) = node.get("status") {
        out.insert("status".into(), keep(status, &["allocatable", "capacity"]));
    }
    Value::Object(out)
}

impl AllocFeed {
    /// A feed whose pod ages are computed at `now` (collection time).
    pub fn new(now: DateTime<Utc>) -> AllocFeed {
        AllocFeed {
            now,
            nodes: BTreeMap::new(),
            pods_by_node: BTreeMap::new(),
            spool: None,
            spool_len: 0,
            spool_error: None,
            abandoned: HashSet::new(),
            next_read: 0,
            unreadable: 0,
            missing_namespaces: Vec::new(),
            pods_failure: None,
            nodes_failure: None,
            written: false,
        }
    }

    /// A new list read that feeds pods; its pods can be dropped with
    /// [`AllocFeed::abandon`] if the read is restarted.
    pub fn start_read(&mut self) -> u32 {
        self.next_read = self.next_read.wrapping_add(1);
        self.next_read
    }

    /// Drops every pod fed by `read` (its list restarted after an expired
    /// continue token and feeds them again under a new read).
    pub fn abandon(&mut self, read: u32) {
        self.abandoned.insert(read);
    }

    /// A node from the nodes list.
    pub fn node(&mut self, node: &Value) {
        let name = node
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty());
        let Some(name) = name else {
            self.unreadable += 1;
            return;
        };
        // Checked now, so an unusable node is counted once, not at write.
        let slim = slim_node(node);
        if Node::deserialize(&slim).is_err() {
            self.unreadable += 1;
            return;
        }
        if let Some(at) = self.spool_value(&slim, 0) {
            self.nodes.insert(name.to_string(), at);
        }
    }

    /// A pod, from any list, fed by `read`. Terminated (`Succeeded`,
    /// `Failed`) and unscheduled pods are not counted, as describe's field
    /// selector leaves them out.
    pub fn pod(&mut self, read: u32, pod: &Value) {
        let node = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty());
        let phase = pod.pointer("/status/phase").and_then(Value::as_str);
        let Some(node) = node else { return };
        if matches!(phase, Some("Succeeded" | "Failed")) {
            return;
        }
        if let Some(at) = self.spool_value(&slim_pod(pod), read) {
            self.pods_by_node
                .entry(node.to_string())
                .or_default()
                .push(at);
        }
    }

    /// Appends `value` to the spool; where it is, or `None` when it could
    /// not be stored (counted, or the spool error kept for [`Self::check`]).
    fn spool_value(&mut self, value: &Value, read: u32) -> Option<Spooled> {
        let bytes = serde_json::to_vec(value).ok();
        let Some((bytes, len)) =
            bytes.and_then(|b| u32::try_from(b.len()).ok().map(|len| (b, len)))
        else {
            self.unreadable += 1;
            return None;
        };
        if self.spool.is_none() && self.spool_error.is_none() {
            match tempfile::tempfile() {
                Ok(f) => self.spool = Some(BufWriter::new(f)),
                Err(e) => self.spool_error = Some(format!("cannot create a temporary file: {e}")),
            }
        }
        let spool = self.spool.as_mut()?;
        if let Err(e) = spool.write_all(&bytes) {
            self.spool_error = Some(format!("cannot write the temporary file: {e}"));
            self.spool = None;
            return None;
        }
        let offset = self.spool_len;
        self.spool_len += u64::from(len);
        Some(Spooled { offset, len, read })
    }

    /// The pods of `namespace` could not be read: allocation undercounts.
    pub fn missing_namespace(&mut self, namespace: &str) {
        self.missing_namespaces.push(namespace.to_string());
    }

    /// The cluster-wide pod read failed.
    pub fn pods_failed(&mut self, f: &Failure) {
        self.pods_failure = Some(f.clone());
    }

    /// The nodes list failed: there is nothing to allocate against.
    pub fn nodes_failed(&mut self, f: &Failure) {
        self.nodes_failure = Some(f.clone());
    }

    /// Whether the file can be written; the failure to record otherwise.
    pub fn check(&self) -> Result<(), Failure> {
        if let Some(f) = &self.nodes_failure {
            return Err(Failure {
                message: format!("nodes could not be listed: {}", f.message),
                ..f.clone()
            });
        }
        if let Some(f) = &self.pods_failure {
            return Err(Failure {
                message: format!("pods could not be listed cluster-wide: {}", f.message),
                ..f.clone()
            });
        }
        if let Some(e) = &self.spool_error {
            return Err(internal(e));
        }
        if self.written {
            return Err(internal("allocation already written"));
        }
        Ok(())
    }

    /// Writes the allocation file into `out`, node by node in name order:
    /// `{"nodes": [ … ]}` with one `NodeAllocation` per line.
    pub fn write(&mut self, out: &mut dyn Write) -> Result<Written, String> {
        self.check().map_err(|f| f.message)?;
        self.written = true;
        let mut spool = match self.spool.take() {
            Some(w) => Some(
                w.into_inner()
                    .map_err(|e| format!("cannot flush the temporary file: {}", e.error()))?,
            ),
            None => None,
        };
        let io = |e: std::io::Error| format!("cannot write the allocation: {e}");
        out.write_all(b"{\"nodes\": [").map_err(io)?;
        let (mut nodes, mut pods) = (0u64, 0u64);
        let mut buf = Vec::new();
        for (name, at) in &self.nodes {
            let Some(file) = spool.as_mut() else { break };
            let node = read_spooled(file, at, &mut buf)
                .and_then(|b| serde_json::from_slice::<Node>(b).map_err(|e| e.to_string()))
                .map_err(|e| {
                    format!("cannot read node {name} back from the temporary file: {e}")
                })?;
            let mut builder = AllocationBuilder::with_now(self.now);
            builder.add_node(&node);
            let spooled = self.pods_by_node.remove(name).unwrap_or_default();
            for s in spooled.iter().filter(|s| !self.abandoned.contains(&s.read)) {
                let bytes = read_spooled(file, s, &mut buf)
                    .map_err(|e| format!("cannot read the temporary file: {e}"))?;
                match serde_json::from_slice::<Pod>(bytes) {
                    Ok(p) => {
                        if builder.add_pod(&p) {
                            pods += 1;
                        }
                    }
                    Err(_) => self.unreadable += 1,
                }
            }
            for entry in builder.finish().nodes {
                out.write_all(if nodes == 0 { b"\n" } else { b",\n" })
                    .map_err(io)?;
                serde_json::to_writer(&mut *out, &entry)
                    .map_err(|e| format!("cannot serialize the allocation: {e}"))?;
                nodes += 1;
            }
        }
        out.write_all(b"\n]}\n").map_err(io)?;
        let mut notes = vec![format!("{nodes} nodes, {pods} non-terminated pods counted")];
        if !self.missing_namespaces.is_empty() {
            notes.push(format!(
                "undercounts: pods of {} could not be read",
                self.missing_namespaces.join(", ")
            ));
        }
        if self.unreadable > 0 {
            notes.push(format!(
                "{} objects could not be parsed and were skipped",
                self.unreadable
            ));
        }
        Ok(Written {
            nodes,
            pods,
            message: notes.join("; "),
        })
    }
}

/// The bytes of one spooled value, read into `buf`.
fn read_spooled<'b>(
    file: &mut File,
    at: &Spooled,
    buf: &'b mut Vec<u8>,
) -> Result<&'b [u8], String> {
    buf.resize(usize::try_from(at.len).unwrap_or(0), 0);
    file.seek(SeekFrom::Start(at.offset))
        .and_then(|_| file.read_exact(buf))
        .map_err(|e| e.to_string())?;
    Ok(buf)
}

fn internal(message: &str) -> Failure {
    Failure {
        outcome: Outcome::Error,
        http_status: None,
        message: message.to_string(),
        class: FailureClass::Step,
    }
}

#[cfg(test)]
mod tests;
