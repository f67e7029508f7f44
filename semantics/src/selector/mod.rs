//! Label selectors (`k8s.io/apimachinery/pkg/labels` and
//! `metav1.LabelSelectorAsSelector`).
//!
//! Three shapes occur in a bundle:
//! - a Service's `spec.selector` map ([`matches_labels`]), where an empty
//!   selector selects **no** pods: the endpoints controller skips Services
//!   without a selector (their Endpoints are managed by hand);
//! - a `metav1.LabelSelector` of Deployments, ReplicaSets, HPAs' targets, PDBs
//!   ([`matches_label_selector`]), where an empty selector selects
//!   **everything** and an invalid one selects nothing;
//! - the `?labelSelector=` query string that `kubectl get -l` sends to the API
//!   server, which `kpm-analyze serve` must evaluate ([`parse_selector`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Why a selector string or `LabelSelector` was rejected, naming the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// The string does not follow the selector grammar.
    #[error("unable to parse label selector {selector:?}: {reason}")]
    Syntax {
        /// The full selector string.
        selector: String,
        /// What was found where, as the API server words it.
        reason: String,
    },
    /// A key is not a valid qualified label name.
    #[error("invalid label key {0:?}")]
    InvalidKey(String),
    /// A value is not a valid label value.
    #[error("invalid label value {value:?} for key {key:?}")]
    InvalidValue {
        /// The requirement's key.
        key: String,
        /// The offending value.
        value: String,
    },
    /// The operator is unknown or has the wrong number of values.
    #[error("invalid requirement on key {key:?}: {reason}")]
    InvalidRequirement {
        /// The requirement's key.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

/// A requirement operator (`selection.Operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `key=value`
    Equals,
    /// `key==value`
    DoubleEquals,
    /// `key!=value`: true when the label is absent or differs.
    NotEquals,
    /// `key in (a,b)`
    In,
    /// `key notin (a,b)`: true when the label is absent or not listed.
    NotIn,
    /// `key`
    Exists,
    /// `!key`
    DoesNotExist,
    /// `key>5` (integer comparison)
    GreaterThan,
    /// `key<5` (integer comparison)
    LessThan,
}

/// One `key op values` term of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    values: BTreeSet<String>,
}

/// A parsed selector: the conjunction of its requirements. No requirements
/// means "everything".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

/// Service-style selection: every pair of `selector` must be in `labels`.
/// An empty selector matches **nothing**, because a Service without a
/// selector gets no endpoints from the endpoints controller.
pub fn matches_labels(
    selector: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
) -> bool {
    !selector.is_empty() && matches_set(selector, labels)
}

/// `labels.SelectorFromSet(set).Matches(labels)`: every pair must be present;
/// an empty set matches **everything**.
pub fn matches_set(set: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    set.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// `metav1.LabelSelectorAsSelector(sel).Matches(labels)`: matchLabels and
/// matchExpressions (In, NotIn, Exists, DoesNotExist) all hold. An empty
/// selector matches everything; an invalid one (unknown operator, `In`
/// without values) matches nothing, as controllers treat a selector that fails
/// to convert.
pub fn matches_label_selector(sel: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    Selector::from_label_selector(sel).is_ok_and(|s| s.matches(labels))
}

/// Parses a `labelSelector` query string (`labels.Parse`):
/// `a=b,a==b,a!=b,a in (x,y),a notin (x),a,!a,a>1,a<1`. The empty string
/// selects everything.
pub fn parse_selector(s: &str) -> Result<Selector, SelectorError> {
    Parser::new(s).parse()
}

impl Requirement {
    /// Builds a validated requirement (`labels.NewRequirement`).
    pub fn new<I, S>(key: &str, operator: Operator, values: I) -> Result<Requirement, SelectorError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if !is_qualified_name(key) {
            return Err(SelectorError::InvalidKey(key.to_owned()));
        }
        let values: BTreeSet<String> = values.into_iter().map(Into::into).collect();
        let invalid = |reason: &str| SelectorError::InvalidRequirement {
            key: key.to_owned(),
            reason: reason.to_owned(),
        };
        match operator {
            Operator::In | Operator::NotIn if values.is_empty() => {
                return Err(invalid(
                    "for 'in', 'notin' operators, values set can't be empty",
                ));
            }
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals
                if values.len() != 1 =>
            {
                return Err(invalid(
                    "exact-match compatibility requires one single value",
                ));
            }
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
                return Err(invalid(
                    "values set must be empty for exists and does not exist",
                ));
            }
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    return Err(invalid(
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    ));
                }
                if values.iter().any(|v| v.parse::<i64>().is_err()) {
                    return Err(invalid(
                        "for 'Gt', 'Lt' operators, the value must be an integer",
                    ));
                }
            }
            _ => {}
        }
        if let Some(bad) = values.iter().find(|v| !is_label_value(v)) {
            return Err(SelectorError::InvalidValue {
                key: key.to_owned(),
                value: bad.clone(),
            });
        }
        Ok(Requirement {
            key: key.to_owned(),
            operator,
            values,
        })
    }

    /// The label key this requirement tests.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values (sorted, deduplicated).
    pub fn values(&self) -> &BTreeSet<String> {
        &self.values
    }

    /// `Requirement.Matches`.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            Operator::Equals | Operator::DoubleEquals | Operator::In => {
                value.is_some_and(|v| self.values.contains(v))
            }
            Operator::NotEquals | Operator::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(have) = value.and_then(|v| v.parse::<i64>().ok()) else {
                    return false;
                };
                let Some(want) = self
                    .values
                    .iter()
                    .next()
                    .and_then(|v| v.parse::<i64>().ok())
                else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = || self.values.iter().cloned().collect::<Vec<_>>().join(",");
        match self.operator {
            Operator::DoesNotExist => write!(f, "!{}", self.key),
            Operator::Exists => write!(f, "{}", self.key),
            Operator::Equals => write!(f, "{}={}", self.key, list()),
            Operator::DoubleEquals => write!(f, "{}=={}", self.key, list()),
            Operator::NotEquals => write!(f, "{}!={}", self.key, list()),
            Operator::GreaterThan => write!(f, "{}>{}", self.key, list()),
            Operator::LessThan => write!(f, "{}<{}", self.key, list()),
            Operator::In => write!(f, "{} in ({})", self.key, list()),
            Operator::NotIn => write!(f, "{} notin ({})", self.key, list()),
        }
    }
}

impl Selector {
    /// The selector that matches every object.
    pub fn everything() -> Selector {
        Selector::default()
    }

    /// Builds a selector from requirements (ANDed), sorted by key as
    /// `labels.Selector.Add` keeps them.
    pub fn from_requirements(mut requirements: Vec<Requirement>) -> Selector {
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Selector { requirements }
    }

    /// `metav1.LabelSelectorAsSelector` for a present selector.
    pub fn from_label_selector(sel: &LabelSelector) -> Result<Selector, SelectorError> {
        let mut reqs = Vec::new();
        for (k, v) in sel.match_labels.iter().flatten() {
            reqs.push(Requirement::new(k, Operator::Equals, [v.as_str()])?);
        }
        for expr in sel.match_expressions.iter().flatten() {
            let op = match expr.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(SelectorError::InvalidRequirement {
                        key: expr.key.clone(),
                        reason: format!("{other:?} is not a valid label selector operator"),
                    })
                }
            };
            let values = expr.values.clone().unwrap_or_default();
            reqs.push(Requirement::new(&expr.key, op, values)?);
        }
        Ok(Selector::from_requirements(reqs))
    }

    /// True if every requirement holds.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// True for the match-everything selector.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// True for a label value: at most 63 characters, empty or alphanumeric at
/// both ends with `-`, `_`, `.` inside (`validation.IsValidLabelValue`).
pub fn is_label_value(v: &str) -> bool {
    v.is_empty() || (v.len() <= 63 && is_qualified_segment(v))
}

fn is_qualified_segment(s: &str) -> bool {
    let b = s.as_bytes();
    let (Some(first), Some(last)) = (b.first(), b.last()) else {
        return false;
    };
    first.is_ascii_alphanumeric()
        && last.is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// True for a label key: an optional DNS-1123 subdomain prefix and `/`, then a
/// name of at most 63 characters (`validation.IsQualifiedName`).
pub fn is_qualified_name(key: &str) -> bool {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        let ok_prefix = !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|label| {
                let b = label.as_bytes();
                matches!((b.first(), b.last()), (Some(f), Some(l))
                    if (f.is_ascii_lowercase() || f.is_ascii_digit())
                        && (l.is_ascii_lowercase() || l.is_ascii_digit()))
                    && b.iter()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            });
        if !ok_prefix {
            return false;
        }
    }
    name.len() <= 63 && is_qualified_segment(name)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    Bang,
    Eq,
    DoubleEq,
    NotEq,
    Gt,
    Lt,
    Open,
    Close,
    Comma,
    End,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Ident(s) => format!("{s:?}"),
            Token::Bang => "\"!\"".into(),
            Token::Eq => "\"=\"".into(),
            Token::DoubleEq => "\"==\"".into(),
            Token::NotEq => "\"!=\"".into(),
            Token::Gt => "\">\"".into(),
            Token::Lt => "\"<\"".into(),
            Token::Open => "\"(\"".into(),
            Token::Close => "\")\"".into(),
            Token::Comma => "\",\"".into(),
            Token::End => "end of string".into(),
        }
    }
}

/// Splits a selector string into tokens (Go's `labels.Lexer`).
fn tokenize(s: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let tok = match c {
            '(' => Token::Open,
            ')' => Token::Close,
            ',' => Token::Comma,
            '>' => Token::Gt,
            '<' => Token::Lt,
            '=' | '!' => {
                chars.next();
                let double = chars.peek() == Some(&'=');
                if double {
                    chars.next();
                }
                out.push(match (c, double) {
                    ('=', true) => Token::DoubleEq,
                    ('=', false) => Token::Eq,
                    (_, true) => Token::NotEq,
                    (_, false) => Token::Bang,
                });
                continue;
            }
            _ => {
                let mut ident = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || "=!(),<>".contains(c) {
                        break;
                    }
                    ident.push(c);
                    chars.next();
                }
                out.push(Token::Ident(ident));
                continue;
            }
        };
        chars.next();
        out.push(tok);
    }
    out.push(Token::End);
    out
}

struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token>,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Self {
        Parser {
            input,
            tokens: tokenize(input),
            pos: 0,
        }
    }

    fn peek(&self) -> &Token {
        self.tokens.get(self.pos).unwrap_or(&Token::End)
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        self.pos += 1;
        t
    }

    fn err(&self, reason: String) -> SelectorError {
        SelectorError::Syntax {
            selector: self.input.to_owned(),
            reason,
        }
    }

    fn parse(mut self) -> Result<Selector, SelectorError> {
        let mut reqs = Vec::new();
        if *self.peek() == Token::End {
            return Ok(Selector::everything());
        }
        loop {
            reqs.push(self.requirement()?);
            match self.next() {
                Token::End => break,
                Token::Comma => match self.peek() {
                    Token::Ident(_) | Token::Bang => {}
                    t => {
                        let found = t.describe();
                        return Err(
                            self.err(format!("found {found}, expected: identifier after ','"))
                        );
                    }
                },
                t => {
                    return Err(self.err(format!(
                        "found {}, expected: ',' or 'end of string'",
                        t.describe()
                    )))
                }
            }
        }
        Ok(Selector::from_requirements(reqs))
    }

    fn requirement(&mut self) -> Result<Requirement, SelectorError> {
        let negated = *self.peek() == Token::Bang;
        if negated {
            self.next();
        }
        let key = match self.next() {
            // `in` and `notin` are keywords where a key is expected.
            Token::Ident(k) if k != "in" && k != "notin" => k,
            t => return Err(self.err(format!("found {}, expected: identifier", t.describe()))),
        };
        if negated {
            return Requirement::new(&key, Operator::DoesNotExist, Vec::<String>::new());
        }
        let op = match self.peek() {
            Token::End | Token::Comma => {
                return Requirement::new(&key, Operator::Exists, Vec::<String>::new());
            }
            Token::Eq => Operator::Equals,
            Token::DoubleEq => Operator::DoubleEquals,
            Token::NotEq => Operator::NotEquals,
            Token::Gt => Operator::GreaterThan,
            Token::Lt => Operator::LessThan,
            Token::Ident(s) if s == "in" => Operator::In,
            Token::Ident(s) if s == "notin" => Operator::NotIn,
            t => {
                let found = t.describe();
                return Err(self.err(format!(
                    "found {found}, expected: in, notin, =, ==, !=, gt, lt"
                )));
            }
        };
        self.next();
        let values = if matches!(op, Operator::In | Operator::NotIn) {
            self.value_list()?
        } else {
            // A missing value (`a=` at the end or before a comma) is "".
            match self.peek().clone() {
                Token::End | Token::Comma => vec![String::new()],
                Token::Ident(v) => {
                    self.next();
                    vec![v]
                }
                t => return Err(self.err(format!("found {}, expected: identifier", t.describe()))),
            }
        };
        Requirement::new(&key, op, values)
    }

    /// `( v1, v2 )`; empty items stand for the empty value, as in Go.
    fn value_list(&mut self) -> Result<Vec<String>, SelectorError> {
        match self.next() {
            Token::Open => {}
            t => return Err(self.err(format!("found {}, expected: '('", t.describe()))),
        }
        let mut values = Vec::new();
        let mut current = String::new();
        // Whether the item being read already has its identifier: `(a b)`
        // is an error, not the value `b`.
        let mut filled = false;
        loop {
            match self.next() {
                Token::Ident(v) if !filled => {
                    current = v;
                    filled = true;
                }
                Token::Comma => {
                    values.push(std::mem::take(&mut current));
                    filled = false;
                }
                Token::Close => {
                    values.push(current);
                    return Ok(values);
                }
                t => {
                    return Err(self.err(format!(
                        "found {}, expected: ',', ')' or identifier",
                        t.describe()
                    )))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
