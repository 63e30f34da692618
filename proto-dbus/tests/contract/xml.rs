//! The interface XML files of `interfaces/`, as zbus renders what the daemon and the agents
//! serve (`tests/introspection.rs` and `x2god-client`'s agent test compare them).

use std::path::{Path, PathBuf};

/// One argument of a method or signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    /// Its name, when it has one.
    pub name: Option<String>,
    /// Its D-Bus signature.
    pub ty: String,
}

/// A method, with the comment before it.
#[derive(Debug)]
pub struct Method {
    pub name: String,
    pub doc: String,
    pub inputs: Vec<Arg>,
    pub outputs: Vec<Arg>,
}

/// A signal.
#[derive(Debug)]
pub struct Signal {
    pub name: String,
    pub args: Vec<Arg>,
}

/// A property.
#[derive(Debug)]
pub struct Property {
    pub name: String,
    pub ty: String,
    /// `read`, `write` or `readwrite`.
    pub access: String,
}

/// One interface file.
#[derive(Debug)]
pub struct Interface {
    pub name: String,
    pub methods: Vec<Method>,
    pub signals: Vec<Signal>,
    pub properties: Vec<Property>,
}

/// This crate's directory.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The comment right before `node`, if any (whitespace between them is skipped).
fn doc_of(node: roxmltree::Node<'_, '_>) -> String {
    let mut prev = node.prev_sibling();
    while let Some(n) = prev {
        if n.is_comment() {
            return n.text().unwrap_or_default().to_owned();
        }
        if n.is_element() || n.text().is_some_and(|t| !t.trim().is_empty()) {
            break;
        }
        prev = n.prev_sibling();
    }
    String::new()
}

fn attr(node: roxmltree::Node<'_, '_>, name: &str) -> String {
    node.attribute(name)
        .unwrap_or_else(|| panic!("<{}> without {name}", node.tag_name().name()))
        .to_owned()
}

fn args<'a>(node: roxmltree::Node<'a, 'a>) -> impl Iterator<Item = (Arg, String)> + 'a {
    node.children().filter(|n| n.has_tag_name("arg")).map(|n| {
        let arg = Arg {
            name: n.attribute("name").map(str::to_owned),
            ty: attr(n, "type"),
        };
        (arg, n.attribute("direction").unwrap_or("in").to_owned())
    })
}

/// Parses one file.
pub fn parse(path: &Path) -> Interface {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc =
        roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let root = doc.root_element();
    assert!(root.has_tag_name("interface"), "{}", path.display());
    let elements = |tag: &'static str| root.children().filter(move |n| n.has_tag_name(tag));
    Interface {
        name: attr(root, "name"),
        methods: elements("method")
            .map(|m| {
                let (mut inputs, mut outputs) = (Vec::new(), Vec::new());
                for (arg, direction) in args(m) {
                    if direction == "out" {
                        outputs.push(arg);
                    } else {
                        inputs.push(arg);
                    }
                }
                Method {
                    name: attr(m, "name"),
                    doc: doc_of(m),
                    inputs,
                    outputs,
                }
            })
            .collect(),
        signals: elements("signal")
            .map(|s| Signal {
                name: attr(s, "name"),
                args: args(s).map(|(a, _)| a).collect(),
            })
            .collect(),
        properties: elements("property")
            .map(|p| Property {
                name: attr(p, "name"),
                ty: attr(p, "type"),
                access: attr(p, "access"),
            })
            .collect(),
    }
}

/// Every file of `interfaces/`, sorted by name.
pub fn all() -> Vec<Interface> {
    let dir = crate_dir().join("interfaces");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    let interfaces: Vec<Interface> = files.iter().map(|f| parse(f)).collect();
    for (f, i) in files.iter().zip(&interfaces) {
        assert_eq!(
            f.file_stem().and_then(|s| s.to_str()),
            Some(i.name.as_str()),
            "{} declares another interface",
            f.display()
        );
    }
    interfaces
}
