//! The interfaces as shipped: `interfaces/*.xml` beside this crate hold each interface of the
//! API as the daemon (or, for the Agent, an applet) serves it, doc comments included. Tests of
//! every crate hold what they serve to these files the same way, with the functions here.

use std::path::{Path, PathBuf};

/// The `<interface name="…">…</interface>` element for `name` in an introspection document,
/// with a final newline, as the shipped files hold it; `None` when the document has none.
pub fn element(document: &str, name: &str) -> Option<String> {
    let start = document.find(&format!("<interface name=\"{name}\">"))?;
    let len = document.get(start..)?.find("</interface>")? + "</interface>".len();
    Some(format!("{}\n", document.get(start..start + len)?))
}

/// Where the shipped file of interface `name` is in the source tree.
pub fn source_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("interfaces")
        .join(format!("{name}.xml"))
}

/// Compares interface `name` of a served introspection `document` with its shipped file, and
/// says how they differ. With `X2GOD_BLESS` set in the environment the file is rewritten
/// first, after a deliberate change of the API.
pub fn compare_with_shipped(document: &str, name: &str) -> Result<(), String> {
    let served = element(document, name).ok_or_else(|| format!("{name} is not served"))?;
    let file = source_file(name);
    if std::env::var_os("X2GOD_BLESS").is_some() {
        std::fs::write(&file, &served).map_err(|e| format!("{}: {e}", file.display()))?;
    }
    let shipped = std::fs::read_to_string(&file)
        .map_err(|e| format!("{}: {e} (X2GOD_BLESS=1 writes it)", file.display()))?;
    if served == shipped {
        Ok(())
    } else {
        Err(format!(
            "{name} as served differs from {}; review the change and bless it with \
             X2GOD_BLESS=1\n--- served\n{served}\n--- shipped\n{shipped}",
            file.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_element_is_cut_out_whole() {
        let doc = "<node><interface name=\"a.B\">\n  <method name=\"M\"/>\n</interface><interface name=\"c.D\"></interface></node>";
        assert_eq!(
            element(doc, "a.B").unwrap(),
            "<interface name=\"a.B\">\n  <method name=\"M\"/>\n</interface>\n"
        );
        assert_eq!(element(doc, "x.Y"), None);
        assert!(source_file("a.B").ends_with("interfaces/a.B.xml"));
    }
}
