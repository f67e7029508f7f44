//! Structure-aware JSON mutations: the document still parses, one value in
//! it is wrong.

use serde_json::{Map, Number, Value};

use crate::rng::Rng;

/// Nesting added by one mutation; beyond serde_json's own limit (128) so
/// the limit is exercised, below what recursion in this crate survives.
const MAX_WRAP: usize = 200;

/// Mutates one value of a JSON document (`None` when `input` is not JSON).
pub fn mutate(rng: &mut Rng, input: &[u8], others: &[&[u8]], dict: &[Vec<u8>]) -> Option<Vec<u8>> {
    let mut doc: Value = serde_json::from_slice(input).ok()?;
    let count = count_nodes(&doc);
    let target = rng.below(count);
    let graft = graft_from(rng, others);
    let mut op = |v: &mut Value| mutate_value(rng, v, graft.as_ref(), dict);
    visit_nth(&mut doc, target, &mut op);
    let mut out = if rng.one_in(4) {
        serde_json::to_vec_pretty(&doc).ok()?
    } else {
        serde_json::to_vec(&doc).ok()?
    };
    if rng.one_in(16) {
        text_level(rng, &mut out);
    }
    Some(out)
}

/// A random value from another seed, to graft in place of one of ours.
fn graft_from(rng: &mut Rng, others: &[&[u8]]) -> Option<Value> {
    if !rng.one_in(6) {
        return None;
    }
    let other: Value = serde_json::from_slice(rng.pick(others)?).ok()?;
    let n = rng.below(count_nodes(&other));
    let mut found = None;
    let mut take = |v: &mut Value| found = Some(v.clone());
    let mut other = other;
    visit_nth(&mut other, n, &mut take);
    found
}

fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count_nodes).sum(),
        Value::Object(o) => o.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// Calls `f` on the `n`-th node in pre-order; returns how many nodes were
/// passed when `n` was not reached.
fn visit_nth(v: &mut Value, n: usize, f: &mut dyn FnMut(&mut Value)) -> usize {
    if n == 0 {
        f(v);
        return usize::MAX;
    }
    let mut seen = 1;
    let children: Vec<&mut Value> = match v {
        Value::Array(a) => a.iter_mut().collect(),
        Value::Object(o) => o.values_mut().collect(),
        _ => Vec::new(),
    };
    for c in children {
        let passed = visit_nth(c, n - seen, f);
        if passed == usize::MAX {
            return usize::MAX;
        }
        seen += passed;
    }
    seen
}

fn mutate_value(rng: &mut Rng, v: &mut Value, graft: Option<&Value>, dict: &[Vec<u8>]) {
    if let Some(g) = graft {
        *v = g.clone();
        return;
    }
    match rng.below(12) {
        0 => *v = wrong_type(rng, v),
        1 => *v = huge_number(rng),
        2 => {
            let depth = 1 + rng.below(MAX_WRAP);
            let inner = std::mem::take(v);
            *v = (0..depth).fold(inner, |acc, i| {
                if i % 2 == 0 {
                    Value::Array(vec![acc])
                } else {
                    let mut m = Map::new();
                    m.insert("a".into(), acc);
                    Value::Object(m)
                }
            });
        }
        3 => *v = Value::String(long_string(rng)),
        4 => *v = Value::String(token(rng, dict)),
        5 => *v = Value::Null,
        6 => remove_child(rng, v),
        7 => repeat_child(rng, v),
        8 => rename_key(rng, v, dict),
        9 => {
            if let Value::String(s) = v {
                let bytes = super::bytes::mutate(rng, s.as_bytes(), &[], dict);
                *s = String::from_utf8_lossy(&bytes).into_owned();
            } else {
                *v = wrong_type(rng, v);
            }
        }
        10 => *v = Value::String(format!("{}{}", token(rng, dict), token(rng, dict))),
        _ => {
            if let Value::Object(o) = v {
                o.insert(token(rng, dict), huge_number(rng));
            } else {
                *v = Value::Object(Map::new());
            }
        }
    }
}

fn wrong_type(rng: &mut Rng, v: &Value) -> Value {
    let choices = [
        Value::Null,
        Value::Bool(true),
        Value::from(0),
        Value::from(-1),
        Value::String(String::new()),
        Value::String("x".into()),
        Value::Array(Vec::new()),
        Value::Object(Map::new()),
        Value::Array(vec![v.clone()]),
    ];
    let same = |c: &Value| std::mem::discriminant(c) == std::mem::discriminant(v);
    let other: Vec<&Value> = choices.iter().filter(|c| !same(c)).collect();
    rng.pick(&other).map_or(Value::Null, |c| (*c).clone())
}

fn huge_number(rng: &mut Rng) -> Value {
    match rng.below(8) {
        0 => Value::from(u64::MAX),
        1 => Value::from(i64::MIN),
        2 => Value::from(i64::MAX),
        3 => Number::from_f64(1e308).map_or(Value::Null, Value::Number),
        4 => Number::from_f64(-1e308).map_or(Value::Null, Value::Number),
        5 => Number::from_f64(0.5).map_or(Value::Null, Value::Number),
        6 => Value::from(u64::from(u32::MAX) + 1),
        _ => Value::from(-1),
    }
}

/// Long strings: one byte repeated, a multi-byte character repeated (cuts
/// at byte offsets fail there) or escapes repeated.
pub fn long_string(rng: &mut Rng) -> String {
    let unit = *rng
        .pick(&["a", "é", "\u{202e}", "\u{1b}[0m", "-", "日本", "\\", " "])
        .unwrap_or(&"a");
    let n = match rng.below(4) {
        0 => 64,
        1 => 254,
        2 => 5_000,
        _ => 200_000,
    };
    unit.repeat(n)
}

fn token(rng: &mut Rng, dict: &[Vec<u8>]) -> String {
    rng.pick(dict)
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .unwrap_or_default()
}

fn remove_child(rng: &mut Rng, v: &mut Value) {
    match v {
        Value::Object(o) if !o.is_empty() => {
            let k = o
                .keys()
                .nth(rng.below(o.len()))
                .cloned()
                .unwrap_or_default();
            o.remove(&k);
        }
        Value::Array(a) if !a.is_empty() => {
            a.remove(rng.below(a.len()));
        }
        _ => *v = Value::Null,
    }
}

fn repeat_child(rng: &mut Rng, v: &mut Value) {
    if let Value::Array(a) = v {
        if let Some(x) = rng.pick(a).cloned() {
            let n = [2, 10, 1000][rng.below(3)];
            a.extend(std::iter::repeat_n(x, n));
        }
    }
}

fn rename_key(rng: &mut Rng, v: &mut Value, dict: &[Vec<u8>]) {
    if let Value::Object(o) = v {
        if let Some(k) = o.keys().nth(rng.below(o.len())).cloned() {
            if let Some(x) = o.remove(&k) {
                o.insert(token(rng, dict), x);
            }
        }
    }
}

/// Mutations serde_json's `Value` cannot express: duplicate keys, nesting
/// far past any recursion limit, a number beyond every integer type.
fn text_level(rng: &mut Rng, out: &mut Vec<u8>) {
    let at = out.iter().position(|&b| b == b'{').map_or(0, |i| i + 1);
    let ins: Vec<u8> = match rng.below(3) {
        0 => br#""metadata":{"name":"dup"},"metadata":{"name":"dup2"},"#.to_vec(),
        1 => {
            let mut s = b"\"deep\":".to_vec();
            s.extend(std::iter::repeat_n(b'[', 20_000));
            s.extend(std::iter::repeat_n(b']', 20_000));
            s.push(b',');
            s
        }
        _ => br#""n":123456789012345678901234567890e999999,"#.to_vec(),
    };
    out.splice(at..at, ins);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visits_every_node_exactly_once() {
        let mut doc: Value = serde_json::json!({"a": [1, {"b": 2}], "c": "d"});
        let n = count_nodes(&doc);
        assert_eq!(n, 6);
        for i in 0..n {
            let mut hits = 0;
            visit_nth(&mut doc, i, &mut |_| hits += 1);
            assert_eq!(hits, 1, "node {i}");
        }
    }
}
