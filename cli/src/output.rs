//! Output: D-Bus values as JSON, aligned tables and key/value lists for people.

use std::collections::HashMap;
use std::io::Write;

use base64::Engine;
use serde_json::{Map, Value as Json};
use zbus::Variant as Value;

/// How values of `ay` (byte arrays, e.g. icons) are written in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bytes {
    /// As base64 strings.
    Base64,
    /// Left out: replaced by their length, so a listing stays small.
    Length,
}

/// A D-Bus value as JSON: integers as numbers, `a{s…}` as objects, arrays as arrays, object
/// paths and signatures as strings, byte arrays per `bytes`.
pub fn to_json(v: &Value<'_>, bytes: Bytes) -> Json {
    #[allow(unreachable_patterns)]
    match v {
        Value::U8(n) => Json::from(*n),
        Value::Bool(b) => Json::from(*b),
        Value::I16(n) => Json::from(*n),
        Value::U16(n) => Json::from(*n),
        Value::I32(n) => Json::from(*n),
        Value::U32(n) => Json::from(*n),
        Value::I64(n) => Json::from(*n),
        Value::U64(n) => Json::from(*n),
        Value::F64(f) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .unwrap_or(Json::Null),
        Value::Str(s) => Json::from(s.as_str()),
        Value::Signature(s) => Json::from(s.to_string()),
        Value::ObjectPath(p) => Json::from(p.as_str()),
        Value::Variant(inner) => to_json(inner, bytes),
        Value::Array(a) => {
            let items = a.inner();
            if a.element_signature().to_string() == "y" {
                let raw: Vec<u8> = items
                    .iter()
                    .filter_map(|e| match e {
                        Value::U8(b) => Some(*b),
                        _ => None,
                    })
                    .collect();
                return match bytes {
                    Bytes::Base64 => {
                        Json::from(base64::engine::general_purpose::STANDARD.encode(raw))
                    }
                    Bytes::Length => Json::from(raw.len()),
                };
            }
            Json::Array(items.iter().map(|e| to_json(e, bytes)).collect())
        }
        Value::Dict(d) => {
            let mut m = Map::new();
            for (k, v) in d.iter() {
                let key = match k {
                    Value::Str(s) => s.as_str().to_owned(),
                    other => other.to_string(),
                };
                m.insert(key, to_json(v, bytes));
            }
            Json::Object(m)
        }
        Value::Structure(s) => Json::Array(s.fields().iter().map(|e| to_json(e, bytes)).collect()),
        _ => Json::Null,
    }
}

/// An `a{sv}` dictionary as a JSON object (keys sorted).
pub fn dict_to_json(d: &HashMap<String, zbus::OwnedVariant>, bytes: Bytes) -> Json {
    let mut m = Map::new();
    for (k, v) in d {
        m.insert(k.clone(), to_json(v, bytes));
    }
    Json::Object(m)
}

/// `CamelCase` D-Bus property names as `snake_case` JSON keys.
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A JSON value as a person reads it in a table cell: strings without quotes.
pub fn cell(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

/// Writes `value` as pretty JSON and a newline to stdout.
pub fn print_json(value: &Json) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    out.flush()
}

/// Column-aligned text: a header line, then one line per row; the last column is not padded.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, c) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let n = cells.len();
        let mut s = String::new();
        for (i, c) in cells.into_iter().enumerate() {
            s.push_str(c);
            if i + 1 < n {
                let pad = widths.get(i).copied().unwrap_or(0) - c.chars().count();
                s.push_str(&" ".repeat(pad + 2));
            }
        }
        s.trim_end().to_owned() + "\n"
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// `key: value` lines with the values aligned, in the order given.
pub fn key_values(pairs: &[(String, String)]) -> String {
    let w = pairs
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    pairs
        .iter()
        .map(|(k, v)| {
            let pad = w - k.chars().count();
            format!("{k}:{} {v}", " ".repeat(pad)).trim_end().to_owned() + "\n"
        })
        .collect()
}

/// Writes text to stdout; a closed pipe (`x2goctl … | head`) is not an error worth a message.
pub fn print(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zbus::OwnedVariant as OwnedValue;

    #[test]
    fn values_to_json() {
        let mut d: HashMap<String, OwnedValue> = HashMap::new();
        d.insert("port".into(), OwnedValue::from(22u16));
        d.insert(
            "name".into(),
            OwnedValue::try_from(Value::from("a")).unwrap(),
        );
        d.insert(
            "icon".into(),
            OwnedValue::try_from(Value::from(vec![1u8, 2, 3])).unwrap(),
        );
        d.insert(
            "list".into(),
            OwnedValue::try_from(Value::from(vec!["x", "y"])).unwrap(),
        );
        let j = dict_to_json(&d, Bytes::Base64);
        assert_eq!(
            j,
            serde_json::json!({"port": 22, "name": "a", "icon": "AQID", "list": ["x", "y"]})
        );
        assert_eq!(
            dict_to_json(&d, Bytes::Length)["icon"],
            serde_json::json!(3)
        );
    }

    #[test]
    fn tables_align() {
        let t = table(
            &["NAME", "STATE"],
            &[
                vec!["a".into(), "running".into()],
                vec!["long-name".into(), "x".into()],
            ],
        );
        assert_eq!(t, "NAME       STATE\na          running\nlong-name  x\n");
        assert_eq!(
            key_values(&[("a".into(), "1".into()), ("abc".into(), "2".into())]),
            "a:   1\nabc: 2\n"
        );
        assert_eq!(snake_case("RemotePeername"), "remote_peername");
    }
}
