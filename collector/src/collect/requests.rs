//! The requests every phase is made of: `/version` and one list, read page
//! by page under a request permit, redacted and handed to the writer.

use std::collections::HashSet;
use std::time::Instant;

use serde_json::Value;

use kpm_bundle::{layout, Step};

use super::{elapsed_ms, fail, fill_type, internal_stop, step, uid_of, Ctx, ListSpec};
use crate::fetch::Paged;
use crate::outcome::Failure;
use crate::redact::Counts;
use crate::sink::Record;
use crate::spool::Items;

impl Ctx {
    /// Records the `/version` answer (fetched before the bundle was opened,
    /// as the connection check). Returns `gitVersion`.
    pub async fn version(
        &self,
        answer: Result<Vec<u8>, Failure>,
        duration_ms: u64,
    ) -> Option<String> {
        let mut s = step("version", None, None);
        s.duration_ms = duration_ms;
        // The manifest has no field for collection settings beyond the log
        // limits; the pacing decided from this very answer goes here.
        s.message = Some(self.fetch.mode().describe());
        let parsed = answer.and_then(|body| {
            serde_json::from_slice::<Value>(&body).map_err(|e| Failure::malformed("/version", &e))
        });
        match parsed {
            Ok(value) => {
                let git = value
                    .get("gitVersion")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                s.items = 1;
                self.record(Record::Json {
                    path: layout::CLUSTER_VERSION.into(),
                    value,
                    step: s,
                })
                .await;
                git
            }
            Err(f) => {
                let mode = s.message.take().unwrap_or_default();
                let mut s = fail(s, &f);
                s.message = Some(format!("{}; {mode}", f.message));
                self.record(Record::Step(s)).await;
                None
            }
        }
    }

    /// Collects one list; `on_item` sees every item before redaction, and
    /// [`Paged::Restart`] when the list starts over (expired continue
    /// token). Holds one permit for the whole list; items wait for the writer
    /// in an [`Items`] buffer that spills to disk when large.
    pub(super) async fn list(
        &self,
        spec: ListSpec,
        mut s: Step,
        on_item: &mut (dyn FnMut(Paged<&Value>) + Send),
    ) -> Result<(), Failure> {
        let Ok(_permit) = self.permits.acquire().await else {
            return Err(internal_stop());
        };
        let t = Instant::now();
        let mut items = Items::new();
        let mut counts = Counts::new();
        let redactor = &self.opts.redactor;
        let mut bad_item = None;
        let mut seen = HashSet::new();
        let result = self
            .fetch
            .list(&spec.url, |paged| match paged {
                Paged::Item(mut item) => {
                    fill_type(&mut item, &spec.kind, &spec.api_version);
                    if !spec.extra.is_empty() {
                        seen.insert(uid_of(&item));
                    }
                    on_item(Paged::Item(&item));
                    redactor.object(&spec.kind, &mut item, &mut counts);
                    let pushed = serde_json::to_vec(&item)
                        .map_err(|e| e.to_string())
                        .and_then(|bytes| items.push(&bytes).map_err(|e| e.to_string()));
                    if let Err(e) = pushed {
                        bad_item = Some(e);
                    }
                }
                Paged::Restart => {
                    items.clear();
                    counts.clear();
                    seen.clear();
                    bad_item = None;
                    on_item(Paged::Restart);
                }
            })
            .await;
        s.duration_ms = elapsed_ms(t);
        match result {
            Ok(info) => {
                let mut notes: Vec<String> = info.note().into_iter().collect();
                let added = self.add_extra(spec.extra, &seen, &mut items, &mut counts);
                if added > 0 {
                    notes.push(format!(
                        "{added} infrastructure pods added outside the --selector"
                    ));
                }
                if let Some(e) = bad_item {
                    notes.push(format!("an item could not be stored: {e}"));
                }
                if !notes.is_empty() {
                    s.message = Some(notes.join("; "));
                }
                self.record(Record::List {
                    path: spec.path,
                    list_kind: spec.list_kind,
                    api_version: spec.api_version,
                    resource_version: info.resource_version,
                    items,
                    step: s,
                    redaction: counts,
                })
                .await;
                Ok(())
            }
            Err(f) => {
                self.note_failure(&f);
                self.record(Record::Step(fail(s, &f.clone()))).await;
                Err(f)
            }
        }
    }
}
