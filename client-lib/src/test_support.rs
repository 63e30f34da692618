//! What the unit tests read of the contract: the interface XML files of `x2god-proto`.

use std::collections::HashMap;

use zbus::{ObjectPath, OwnedVariant, Variant};

/// The properties (name, signature) of `interface` as its XML file declares them.
pub fn properties(interface: &str) -> Vec<(String, String)> {
    let file = x2god_proto::interfaces::source_file(interface);
    let text = std::fs::read_to_string(&file).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let props: Vec<(String, String)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("property"))
        .map(|n| {
            let attr = |a| n.attribute(a).unwrap().to_owned();
            (attr("name"), attr("type"))
        })
        .collect();
    assert!(!props.is_empty(), "{} declares no property", file.display());
    props
}

/// A value of type `signature` that differs from the type's default (`text` for strings).
pub fn sample(signature: &str, text: &'static str) -> OwnedVariant {
    let v = match signature {
        "s" => Variant::from(text),
        "b" => Variant::from(true),
        "q" => Variant::from(7u16),
        "u" => Variant::from(7u32),
        "i" => Variant::from(7i32),
        "o" => Variant::from(ObjectPath::from_static_str_unchecked("/x")),
        "as" => Variant::from(vec![text]),
        "a(sb)" => Variant::from(vec![(text, true)]),
        other => panic!("no sample of type {other}: add one"),
    };
    OwnedVariant::try_from(v).unwrap()
}

/// For each property of `interface`: whether `read` takes it from a `GetAll` answer, i.e.
/// gives another result when only that property is in the answer. Returns the ones not read.
pub fn unread_properties<T: PartialEq>(
    interface: &str,
    text: &'static str,
    read: impl Fn(HashMap<String, OwnedVariant>) -> T,
) -> Vec<String> {
    let nothing = read(HashMap::new());
    properties(interface)
        .into_iter()
        .filter(|(name, sig)| {
            let one = HashMap::from([(name.clone(), sample(sig, text))]);
            read(one) == nothing
        })
        .map(|(name, _)| name)
        .collect()
}
