//! `--set key=value` arguments turned into typed `a{sv}` entries.
//!
//! x2god refuses a value of the wrong D-Bus type (`allow_agent` must be `b`, not the string
//! `"true"`), so each known key is sent with the type the contract's key table gives it
//! ([`x2god_proto::keys`], the README's section "Keys"). Keys the table does not know go as
//! strings; `key:TYPE=value` forces a type for those.

use x2god_client::Options;
use x2god_proto::keys;

use crate::exit::Failure;

/// The D-Bus type a value is sent as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `s`
    Str,
    /// `b`
    Bool,
    /// `q`
    U16,
    /// `u`
    U32,
    /// `i`
    I32,
    /// `x`
    I64,
    /// `d`, seconds
    F64,
    /// `as`; repeating the key adds elements
    StrList,
}

/// The type `key` is sent as without an explicit `:TYPE`: the one x2god itself uses for it
/// (every row of a name is sent alike, whatever call it is for).
pub fn kind_of(key: &str) -> Kind {
    keys::named(key)
        .next()
        .and_then(|k| explicit_kind(k.ty.signature()))
        .unwrap_or(Kind::Str)
}

/// Secrets travel only through the prompt or stdin, never through argv (which `ps` shows).
fn is_secret(key: &str) -> bool {
    keys::named(key).any(|k| k.secret)
}

fn explicit_kind(t: &str) -> Option<Kind> {
    Some(match t {
        "s" => Kind::Str,
        "b" => Kind::Bool,
        "q" => Kind::U16,
        "u" => Kind::U32,
        "i" => Kind::I32,
        "x" => Kind::I64,
        "d" => Kind::F64,
        "as" => Kind::StrList,
        _ => return None,
    })
}

/// Parses a boolean the way people type them.
pub fn parse_bool(key: &str, v: &str) -> Result<bool, Failure> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err(Failure::usage(format!(
            "{key}: {v:?} is not a boolean (true/false, yes/no, on/off, 1/0)"
        ))),
    }
}

fn number<T: std::str::FromStr>(key: &str, v: &str, what: &str) -> Result<T, Failure> {
    v.trim()
        .parse()
        .map_err(|_| Failure::usage(format!("{key}: {v:?} is not {what}")))
}

/// One parsed `--set` argument.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    /// The dictionary key.
    pub key: String,
    /// The value, typed.
    pub value: Value,
}

/// A typed value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `s`
    Str(String),
    /// `b`
    Bool(bool),
    /// `q`
    U16(u16),
    /// `u`
    U32(u32),
    /// `i`
    I32(i32),
    /// `x`
    I64(i64),
    /// `d`
    F64(f64),
    /// `as`
    List(Vec<String>),
}

/// Parses one `key=value` / `key:TYPE=value` argument.
pub fn parse_setting(arg: &str) -> Result<Setting, Failure> {
    let (lhs, v) = arg
        .split_once('=')
        .ok_or_else(|| Failure::usage(format!("--set {arg:?}: expected key=value")))?;
    let (key, kind) = match lhs.split_once(':') {
        Some((k, t)) => (
            k,
            explicit_kind(t).ok_or_else(|| {
                Failure::usage(format!(
                    "--set {lhs}: unknown type {t:?} (s, b, q, u, i, x, d or as)"
                ))
            })?,
        ),
        None => (lhs, kind_of(lhs)),
    };
    let key = key.trim();
    if key.is_empty() {
        return Err(Failure::usage(format!("--set {arg:?}: the key is empty")));
    }
    if is_secret(key) {
        return Err(Failure::usage(format!(
            "{key} is never taken on the command line (other users can read it there); use the \
             prompt or --password-stdin"
        )));
    }
    let value = match kind {
        Kind::Str => Value::Str(v.to_owned()),
        Kind::Bool => Value::Bool(parse_bool(key, v)?),
        Kind::U16 => Value::U16(number(key, v, "a number from 0 to 65535")?),
        Kind::U32 => Value::U32(number(key, v, "a non-negative integer")?),
        Kind::I32 => Value::I32(number(key, v, "an integer")?),
        Kind::I64 => Value::I64(number(key, v, "an integer")?),
        Kind::F64 => {
            let f: f64 = number(key, v, "a number of seconds")?;
            if !f.is_finite() {
                return Err(Failure::usage(format!("{key}: {v:?} is not a number")));
            }
            Value::F64(f)
        }
        Kind::StrList => Value::List(vec![v.to_owned()]),
    };
    Ok(Setting {
        key: key.to_owned(),
        value,
    })
}

/// Builds a dictionary from settings; a repeated list key adds elements, a repeated scalar key
/// keeps the last value (as a later flag overrides an earlier one).
pub fn to_options(settings: &[Setting]) -> Options {
    let mut merged: Vec<Setting> = Vec::new();
    for s in settings {
        match (merged.iter_mut().find(|m| m.key == s.key), &s.value) {
            (
                Some(Setting {
                    value: Value::List(old),
                    ..
                }),
                Value::List(new),
            ) => old.extend(new.iter().cloned()),
            (Some(m), _) => m.value = s.value.clone(),
            (None, _) => merged.push(s.clone()),
        }
    }
    let mut o = Options::new();
    for s in merged {
        o = match s.value {
            Value::Str(v) => o.set(&s.key, v),
            Value::Bool(v) => o.set(&s.key, v),
            Value::U16(v) => o.set(&s.key, v),
            Value::U32(v) => o.set(&s.key, v),
            Value::I32(v) => o.set(&s.key, v),
            Value::I64(v) => o.set(&s.key, v),
            Value::F64(v) => o.set(&s.key, v),
            Value::List(v) => o.set(&s.key, v),
        };
    }
    o
}

/// Shorthand for building a setting in code.
pub fn setting(key: &str, value: Value) -> Setting {
    Setting {
        key: key.to_owned(),
        value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_keys_get_their_type() {
        assert_eq!(parse_setting("port=2222").unwrap().value, Value::U16(2222));
        assert_eq!(
            parse_setting("allow_agent=yes").unwrap().value,
            Value::Bool(true)
        );
        assert_eq!(parse_setting("timeout=2.5").unwrap().value, Value::F64(2.5));
        assert_eq!(
            parse_setting("geometry=800x600").unwrap().value,
            Value::Str("800x600".into())
        );
        assert_eq!(
            parse_setting("cmd=xterm -fg red").unwrap().value,
            Value::Str("xterm -fg red".into())
        );
        assert_eq!(
            parse_setting("key_filename=/a").unwrap().value,
            Value::List(vec!["/a".into()])
        );
    }

    #[test]
    fn explicit_types_and_errors() {
        assert_eq!(
            parse_setting("new_thing:u=7").unwrap(),
            setting("new_thing", Value::U32(7))
        );
        assert!(parse_setting("port=http").is_err());
        assert!(parse_setting("port=70000").is_err());
        assert!(parse_setting("allow_agent=maybe").is_err());
        assert!(parse_setting("x:zz=1").is_err());
        assert!(parse_setting("novalue").is_err());
        assert!(parse_setting("=1").is_err());
        assert!(parse_setting("timeout=inf").is_err());
    }

    #[test]
    fn secrets_are_refused() {
        let e = parse_setting("password=hunter2").unwrap_err();
        assert!(!e.message.contains("hunter2"));
        assert!(parse_setting("passphrase:s=x").is_err());
    }

    #[test]
    fn every_key_of_the_table_gets_its_type() {
        for k in keys::KEYS {
            let sig = k.ty.signature();
            assert_eq!(Some(kind_of(k.name)), explicit_kind(sig), "{}", k.name);
            assert_eq!(is_secret(k.name), k.secret, "{}", k.name);
        }
        assert_eq!(kind_of("share_mode"), Kind::I32);
        assert_eq!(kind_of("maxwait"), Kind::F64);
        assert_eq!(kind_of("display"), Kind::Str);
        assert!(is_secret("sshproxy_passphrase"));
    }

    #[test]
    fn lists_accumulate_and_scalars_override() {
        let s = [
            parse_setting("key_filename=/a").unwrap(),
            parse_setting("port=1").unwrap(),
            parse_setting("key_filename=/b").unwrap(),
            parse_setting("port=2").unwrap(),
        ];
        let o = to_options(&s);
        let arg = o.as_call_arg();
        assert_eq!(arg.len(), 2);
        assert_eq!(
            arg.get("port").map(|v| v.to_string()),
            Some("uint16 2".into())
        );
        let keys = arg.get("key_filename").map(|v| v.to_string()).unwrap();
        assert!(keys.contains("/a") && keys.contains("/b"), "{keys}");
    }
}
