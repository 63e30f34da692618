//! The README's section "Keys" shows the key table: its three Markdown tables are rendered from
//! `src/keys.rs` and must equal what is there. `X2GOD_BLESS=1` rewrites them.

use x2god_proto::keys::{self, Python, PythonStatus, Type};

use super::xml;

fn type_text(ty: Type) -> String {
    match ty {
        Type::String => "`s`".into(),
        Type::Boolean => "`b`".into(),
        Type::Integer {
            signature,
            min,
            max,
        } => format!("`{signature}` (any integer type), {min} to {max}"),
        Type::Seconds => "`d` (or any integer type), seconds, up to 3600".into(),
        Type::Paths => "`as` (or one `s`)".into(),
        Type::IntegerOrString => "`s` or any integer type".into(),
    }
}

/// The table of option and setting keys, and the keys refused as not supported.
fn option_keys() -> String {
    let mut out = String::from(
        "| key | type | accepted by | secret | python-x2go | meaning |\n\
         |---|---|---|---|---|---|\n",
    );
    for k in keys::KEYS {
        assert!(
            !k.doc.contains('|'),
            "{}: a | would break the table",
            k.name
        );
        let calls: Vec<String> = k.calls.iter().map(|c| format!("`{c}`")).collect();
        let python = match k.python {
            Python::Same => "same".to_owned(),
            Python::Other(name) => format!("`{name}`"),
            Python::Missing => "—".to_owned(),
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {python} | {} |\n",
            k.name,
            type_text(k.ty),
            calls.join(", "),
            if k.secret { "yes" } else { "" },
            k.doc
        ));
    }
    // The python-x2go session parameters have a table of their own.
    let others = || {
        keys::UNSUPPORTED
            .iter()
            .filter(|u| !keys::PYTHON_SESSION_PARAMS.contains(&u.name))
    };
    let mut reasons: Vec<&str> = others().map(|u| u.reason).collect();
    reasons.dedup();
    for reason in reasons {
        let names: Vec<String> = others()
            .filter(|u| u.reason == reason)
            .map(|u| format!("`{}`", u.name))
            .collect();
        out.push_str(&format!(
            "\npython-x2go's {} {} refused with `NotSupported`: {reason}.\n",
            names.join(" and "),
            if names.len() == 1 { "is" } else { "are" }
        ));
    }
    out
}

/// The table of every python-x2go session parameter and what x2god does with it.
fn python_params() -> String {
    let mut out = String::from("| python-x2go parameter | x2god |\n|---|---|\n");
    for name in keys::PYTHON_SESSION_PARAMS {
        let status = match keys::python_status(name) {
            Some(PythonStatus::Supported(k)) => {
                let calls: Vec<String> = keys::named(name)
                    .flat_map(|k| k.calls)
                    .map(|c| format!("`{c}`"))
                    .collect();
                format!("supported ({}): {}", calls.join(", "), k.doc)
            }
            Some(PythonStatus::NotSupported(u)) => format!("`NotSupported`: {}.", u.reason),
            None => panic!("python-x2go's {name} is neither a key nor refused"),
        };
        assert!(!status.contains('|'), "{name}: a | would break the table");
        out.push_str(&format!("| `{name}` | {status} |\n"));
    }
    out
}

/// The table of the session dictionary's keys.
fn session_keys() -> String {
    let mut out = String::from("| key | type | meaning |\n|---|---|---|\n");
    for k in keys::session::KEYS {
        out.push_str(&format!(
            "| `{}` | `{}` | {} |\n",
            k.name, k.signature, k.doc
        ));
    }
    out
}

const BLESS: &str = "X2GOD_BLESS=1 cargo test -p x2god-proto --test contract rewrites it";

/// The README with the region `name` replaced by `body`.
fn with_region(readme: &str, name: &str, body: &str) -> String {
    let begin = format!("<!-- {name}: generated from proto-dbus/src/keys.rs; {BLESS} -->\n");
    let end = format!("<!-- end of {name} -->");
    let start = readme
        .find(&begin)
        .unwrap_or_else(|| panic!("README.md has no line {begin:?}"))
        + begin.len();
    let stop = start
        + readme[start..]
            .find(&end)
            .unwrap_or_else(|| panic!("README.md has no line {end:?}"));
    format!("{}{body}{}", &readme[..start], &readme[stop..])
}

#[test]
fn readme_shows_the_key_tables() {
    let path = xml::crate_dir().join("../README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let rendered = with_region(
        &with_region(
            &with_region(&readme, "option keys", &option_keys()),
            "session keys",
            &session_keys(),
        ),
        "python-x2go parameters",
        &python_params(),
    );
    if std::env::var_os("X2GOD_BLESS").is_some() && rendered != readme {
        std::fs::write(&path, &rendered).unwrap();
        return;
    }
    assert!(
        rendered == readme,
        "the README's key tables differ from proto-dbus/src/keys.rs; {BLESS}"
    );
}
