//! A `List` read object by object, so one bad object costs that object.
//!
//! Parsing a list straight into typed objects is fast, but one object with
//! a field of the wrong type fails the whole list. A reader that hits that
//! reads the list again through [`LenientList`]: each object is parsed on
//! its own (as a small JSON tree, then typed), good ones are kept and bad
//! ones named by position and, when readable, by name.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::error::shorten;

/// The objects of a list that parsed, and the ones that did not.
#[derive(Debug)]
pub struct LenientList<T> {
    /// Objects that have the expected shape, in file order.
    pub items: Vec<T>,
    /// Objects that do not.
    pub bad: Vec<BadItem>,
}

/// One object of a list that does not have the expected shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadItem {
    /// Position in `items`, from 0.
    pub index: usize,
    /// `metadata.name`, when the object has a readable one (shortened).
    pub name: Option<String>,
    /// What the parser said (shortened).
    pub problem: String,
}

impl fmt::Display for BadItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(
                f,
                "item {} ({name}) is not a valid object: {}",
                self.index, self.problem
            ),
            None => write!(
                f,
                "item {} is not a valid object: {}",
                self.index, self.problem
            ),
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for LenientList<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ListVisitor(PhantomData))
    }
}

struct ListVisitor<T>(PhantomData<T>);

impl<'de, T: DeserializeOwned> Visitor<'de> for ListVisitor<T> {
    type Value = LenientList<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Kubernetes List object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut list = LenientList {
            items: Vec::new(),
            bad: Vec::new(),
        };
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" {
                // `"items": null` is an empty list; a repeated key appends.
                if let Some(more) = map.next_value::<Option<Items<T>>>()? {
                    let offset = list.items.len() + list.bad.len();
                    list.items.extend(more.0.items);
                    list.bad.extend(more.0.bad.into_iter().map(|b| BadItem {
                        index: b.index + offset,
                        ..b
                    }));
                }
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(list)
    }
}

struct Items<T>(LenientList<T>);

impl<'de, T: DeserializeOwned> Deserialize<'de> for Items<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(ItemsVisitor(PhantomData))
    }
}

struct ItemsVisitor<T>(PhantomData<T>);

impl<'de, T: DeserializeOwned> Visitor<'de> for ItemsVisitor<T> {
    type Value = Items<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut list = LenientList {
            items: Vec::new(),
            bad: Vec::new(),
        };
        let mut index = 0usize;
        while let Some(value) = seq.next_element::<Value>()? {
            let name = value
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .map(shorten);
            match T::deserialize(value) {
                Ok(item) => list.items.push(item),
                Err(e) => list.bad.push(BadItem {
                    index,
                    name,
                    problem: shorten(&e.to_string()),
                }),
            }
            index += 1;
        }
        Ok(Items(list))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Obj {
        metadata: Meta,
        #[serde(default)]
        count: u32,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Meta {
        name: String,
    }

    #[test]
    fn a_bad_object_costs_that_object_only() {
        let text = br#"{"kind":"XList","items":[
            {"metadata":{"name":"a"},"count":1},
            {"metadata":{"name":"b"},"count":"many"},
            7,
            {"metadata":{"name":"d"},"metadata2":{"managedFields":[]}}
        ],"metadata":{}}"#;
        let list: LenientList<Obj> = crate::lean::from_slice(text).unwrap();
        let names: Vec<&str> = list
            .items
            .iter()
            .map(|o| o.metadata.name.as_str())
            .collect();
        assert_eq!(names, ["a", "d"]);
        assert_eq!(list.bad.len(), 2);
        assert_eq!(list.bad[0].index, 1);
        assert_eq!(list.bad[0].name.as_deref(), Some("b"));
        assert!(list.bad[0]
            .to_string()
            .starts_with("item 1 (b) is not a valid object: invalid type"));
        assert_eq!(list.bad[1].index, 2);
        assert_eq!(list.bad[1].name, None);
    }

    #[test]
    fn null_or_missing_items_are_an_empty_list() {
        for text in [&br#"{"items":null}"#[..], br#"{"kind":"PodList"}"#] {
            let list: LenientList<Obj> = serde_json::from_slice(text).unwrap();
            assert!(list.items.is_empty() && list.bad.is_empty());
        }
        assert!(serde_json::from_slice::<LenientList<Obj>>(b"{\"items\":[").is_err());
    }
}
