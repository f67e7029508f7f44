//! Deserializing objects without the field sets of `managedFields`.
//!
//! Server-side apply bookkeeping (`metadata.managedFields[].fieldsV1`, a
//! free-form tree naming every field each manager owns) is often the largest
//! part of a stored object, and kubectl hides it by default. Analysis reads
//! only who wrote an object and when (`manager`, `operation`, `time`), never
//! the field sets, so skipping them while parsing (instead of building and
//! dropping JSON trees) saves much of the parse and allocation cost of a
//! large bundle.
//!
//! [`WithoutFieldSets`] wraps any serde `Deserializer` and passes every call
//! through, except that `fieldsV1` is skipped in the entries of a
//! `managedFields` list under a `metadata` key. Only that position is
//! touched: a ConfigMap data key called `fieldsV1` is kept.

use std::borrow::Cow;
use std::fmt;

use serde::de::value::CowStrDeserializer;
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IgnoredAny, MapAccess, SeqAccess, Visitor,
};

/// Where a value sits, as far as skipping field sets is concerned.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
enum At {
    #[default]
    Elsewhere,
    /// The map under a `metadata` key.
    Metadata,
    /// The list `metadata.managedFields`.
    ManagedFields,
    /// One entry of that list.
    ManagedEntry,
}

impl At {
    /// Where the value of `key` in a map at `self` sits.
    fn under_key(self, key: &str) -> At {
        match (self, key) {
            (At::Metadata, "managedFields") => At::ManagedFields,
            (_, "metadata") => At::Metadata,
            _ => At::Elsewhere,
        }
    }

    /// Where an element of a list at `self` sits.
    fn element(self) -> At {
        if self == At::ManagedFields {
            At::ManagedEntry
        } else {
            At::Elsewhere
        }
    }
}

/// Parses `bytes` as `T`, skipping `metadata.managedFields[].fieldsV1`.
pub fn from_slice<'de, T: de::Deserialize<'de>>(bytes: &'de [u8]) -> serde_json::Result<T> {
    let mut json = serde_json::Deserializer::from_slice(bytes);
    let value = T::deserialize(WithoutFieldSets::new(&mut json))?;
    json.end()?;
    Ok(value)
}

/// A `Deserializer` adapter that drops `metadata.managedFields[].fieldsV1`.
pub struct WithoutFieldSets<D> {
    inner: D,
    at: At,
}

impl<D> WithoutFieldSets<D> {
    /// Wraps a deserializer positioned at the top of a document.
    pub fn new(inner: D) -> Self {
        WithoutFieldSets {
            inner,
            at: At::Elsewhere,
        }
    }
}

/// Wraps the visitor of one value.
struct Wrap<V> {
    inner: V,
    at: At,
}

/// Wraps the seed of a nested value.
struct Seed<S> {
    inner: S,
    at: At,
}

struct Map<A> {
    inner: A,
    at: At,
    /// Where the value of the key just returned sits.
    next: At,
}

struct Seq<A> {
    inner: A,
    at: At,
}

fn wrap<V>(inner: V, at: At) -> Wrap<V> {
    Wrap { inner, at }
}

macro_rules! forward_deserialize {
    ($($method:ident),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.inner.$method(wrap(visitor, self.at))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for WithoutFieldSets<D> {
    type Error = D::Error;

    forward_deserialize!(
        deserialize_any,
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_unit,
        deserialize_seq,
        deserialize_map,
        deserialize_identifier,
    );

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.inner
            .deserialize_unit_struct(name, wrap(visitor, self.at))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.inner
            .deserialize_newtype_struct(name, wrap(visitor, self.at))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.inner.deserialize_tuple(len, wrap(visitor, self.at))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.inner
            .deserialize_tuple_struct(name, len, wrap(visitor, self.at))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.inner
            .deserialize_struct(name, fields, wrap(visitor, self.at))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.inner
            .deserialize_enum(name, variants, wrap(visitor, self.at))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        // Nothing inside is kept: no need to look for managedFields.
        self.inner.deserialize_ignored_any(visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

macro_rules! forward_visit {
    ($($method:ident: $ty:ty),* $(,)?) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
            self.inner.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit!(
        visit_bool: bool,
        visit_i8: i8,
        visit_i16: i16,
        visit_i32: i32,
        visit_i64: i64,
        visit_i128: i128,
        visit_u8: u8,
        visit_u16: u16,
        visit_u32: u32,
        visit_u64: u64,
        visit_u128: u128,
        visit_f32: f32,
        visit_f64: f64,
        visit_char: char,
        visit_str: &str,
        visit_borrowed_str: &'de str,
        visit_string: String,
        visit_bytes: &[u8],
        visit_borrowed_bytes: &'de [u8],
        visit_byte_buf: Vec<u8>,
    );

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.inner.visit_some(WithoutFieldSets {
            inner: d,
            at: self.at,
        })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.inner.visit_newtype_struct(WithoutFieldSets {
            inner: d,
            at: self.at,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.inner.visit_seq(Seq {
            inner: seq,
            at: self.at,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.inner.visit_map(Map {
            inner: map,
            at: self.at,
            next: At::Elsewhere,
        })
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        // JSON enums here are plain strings or one-key maps; their payloads
        // carry no object metadata.
        self.inner.visit_enum(data)
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.inner.deserialize(WithoutFieldSets {
            inner: d,
            at: self.at,
        })
    }
}

/// Reads a map key as text, borrowed from the input when it can be.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(Key)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map key")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v))
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Map<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        loop {
            let Some(key) = self.inner.next_key_seed(Key)? else {
                return Ok(None);
            };
            if self.at == At::ManagedEntry && key == "fieldsV1" {
                self.inner.next_value::<IgnoredAny>()?;
                continue;
            }
            self.next = self.at.under_key(&key);
            return seed
                .deserialize(CowStrDeserializer::<A::Error>::new(key))
                .map(Some);
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        let at = std::mem::take(&mut self.next);
        self.inner.next_value_seed(Seed { inner: seed, at })
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Seq<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.inner.next_element_seed(Seed {
            inner: seed,
            at: self.at.element(),
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ConfigMap, Pod};

    const POD: &str = r#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"4711"},
      "items":[{"metadata":{"name":"web-7d4b9c6f5d-x2x9k","namespace":"shop",
        "labels":{"app":"web"},
        "managedFields":[{"manager":"kube-controller-manager","operation":"Update","apiVersion":"v1",
          "time":"2026-11-20T09:12:44Z","fieldsType":"FieldsV1",
          "fieldsV1":{"f:metadata":{"f:labels":{".":{},"f:app":{}}}}}],
        "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-7d4b9c6f5d","uid":"1b2c","controller":true}]},
      "spec":{"containers":[{"name":"web","image":"nginx:1.27","ports":[{"containerPort":8080}],
        "readinessProbe":{"httpGet":{"path":"/healthz","port":"http"}}}]},
      "status":{"phase":"Running","containerStatuses":[{"name":"web","ready":true,"restartCount":3,"image":"nginx:1.27","imageID":"","started":true,
        "state":{"running":{"startedAt":"2026-11-20T09:13:02Z"}}}]}}]}"#;

    #[test]
    fn drops_field_sets_and_keeps_everything_else() {
        let lean: crate::List<Pod> = from_slice(POD.as_bytes()).unwrap();
        let full: crate::List<Pod> = serde_json::from_str(POD).unwrap();
        let mut expected = full.items[0].clone();
        let entries = expected.metadata.managed_fields.as_mut().unwrap();
        assert!(entries[0].fields_v1.is_some());
        entries[0].fields_v1 = None;
        assert_eq!(lean.items[0], expected);
        assert_eq!(lean.metadata, full.metadata);
        let kept = &lean.items[0].metadata.managed_fields.as_ref().unwrap()[0];
        assert_eq!(kept.manager.as_deref(), Some("kube-controller-manager"));
        assert!(kept.time.is_some(), "who wrote it and when is kept");
    }

    #[test]
    fn data_keys_with_the_same_names_are_kept() {
        let cm = r#"{"metadata":{"name":"odd","managedFields":[{"manager":"kubectl-create",
              "operation":"Update","fieldsType":"FieldsV1","fieldsV1":{"f:data":{}}}]},
            "data":{"fieldsV1":"a value","managedFields":"b","metadata":"x"}}"#;
        let cm: ConfigMap = from_slice(cm.as_bytes()).unwrap();
        let entry = &cm.metadata.managed_fields.unwrap()[0];
        assert_eq!(entry.fields_v1, None);
        assert_eq!(entry.fields_type.as_deref(), Some("FieldsV1"));
        let data = cm.data.unwrap();
        assert_eq!(data["fieldsV1"], "a value");
        assert_eq!(data["managedFields"], "b");
        assert_eq!(data["metadata"], "x");
    }

    #[test]
    fn errors_keep_their_position() {
        let truncated = &POD.as_bytes()[..POD.len() - 40];
        let e = from_slice::<crate::List<Pod>>(truncated).unwrap_err();
        assert!(e.is_eof());
        let e = from_slice::<crate::List<Pod>>(b"{\"items\": [1]} trailing").unwrap_err();
        assert!(!e.is_eof());
    }
}
