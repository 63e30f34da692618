//! The comment of every method that takes an `a{sv}` (in the interface XML, rendered from the
//! daemon's doc comments) names every key the key table says the method accepts, and the key
//! table knows every such method.
//!
//! A key is named by writing it in backticks. "as for `CreateProfile`" (or `Profile.Resume`)
//! names every key of that call, whose own comment is checked in turn.

use std::collections::BTreeSet;

use x2god_proto::keys::{self, Call};

use super::xml;

/// The call of `member` of `interface`, if the key table has it.
fn call_of(interface: &str, member: &str) -> Option<Call> {
    Call::ALL
        .into_iter()
        .find(|c| c.member() == member && c.interfaces().contains(&interface))
}

/// The words in backticks.
fn backticked(doc: &str) -> BTreeSet<&str> {
    doc.split('`').skip(1).step_by(2).collect()
}

/// The methods a comment refers to with "as for `Call`" or "as for `Interface.Call`": the
/// interface (`None`: the comment's own) and the call.
fn referenced(doc: &str) -> Vec<(Option<String>, Call)> {
    doc.split("as for `")
        .skip(1)
        .filter_map(|rest| rest.split('`').next())
        .flat_map(|token| {
            let member = token.rsplit('.').next().unwrap_or(token);
            let interface = token
                .rsplit_once('.')
                .map(|(i, _)| format!("org.x2go.Control1.{i}"));
            Call::ALL
                .into_iter()
                .filter(|c| {
                    c.member() == member
                        && interface
                            .as_deref()
                            .is_none_or(|i| c.interfaces().contains(&i))
                })
                .map(|c| (interface.clone(), c))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The methods that take an `a{sv}`.
fn dictionary_methods(interfaces: &[xml::Interface]) -> Vec<(&str, &xml::Method)> {
    interfaces
        .iter()
        .flat_map(|i| i.methods.iter().map(move |m| (i.name.as_str(), m)))
        .filter(|(_, m)| m.inputs.iter().any(|a| a.ty == "a{sv}"))
        .collect()
}

#[test]
fn the_key_table_knows_every_method_that_takes_a_dictionary() {
    let interfaces = xml::all();
    let methods = dictionary_methods(&interfaces);
    for (interface, m) in &methods {
        assert!(
            call_of(interface, &m.name).is_some(),
            "{interface}.{} takes an a{{sv}}, but keys::Call has no such call",
            m.name
        );
    }
    for call in Call::ALL {
        for interface in call.interfaces() {
            assert!(
                methods
                    .iter()
                    .any(|(i, m)| i == interface && m.name == call.member()),
                "keys::Call::{call:?}: {interface} has no method {call} that takes an a{{sv}}"
            );
        }
    }
}

#[test]
fn comments_name_every_key_their_method_accepts() {
    let interfaces = xml::all();
    let mut problems = Vec::new();
    for (interface, m) in dictionary_methods(&interfaces) {
        let Some(call) = call_of(interface, &m.name) else {
            continue;
        };
        let mut named: BTreeSet<&str> = backticked(&m.doc);
        for (other_interface, other) in referenced(&m.doc) {
            let itself = other == call && other_interface.is_none_or(|i| i == interface);
            assert!(!itself, "{interface}.{} refers to itself", m.name);
            named.extend(keys::accepted(other).map(|k| k.name));
        }
        let missing: Vec<&str> = keys::accepted(call)
            .map(|k| k.name)
            .filter(|k| !named.contains(k))
            .collect();
        if !missing.is_empty() {
            problems.push(format!(
                "{interface}.{}: the comment does not name {}",
                m.name,
                missing.join(", ")
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "name the keys in the doc comment of the daemon's method and regenerate the XML:\n{}",
        problems.join("\n")
    );
}

#[test]
fn references_are_read() {
    assert_eq!(
        referenced("keys as for `CreateProfile`."),
        [(None, Call::CreateProfile)]
    );
    assert_eq!(
        referenced("options as for `Profile.Resume`"),
        [(Some("org.x2go.Control1.Profile".to_owned()), Call::Resume)]
    );
    assert!(referenced("see `Start`").is_empty());
    assert_eq!(backticked("a `b` c `d`"), BTreeSet::from(["b", "d"]));
}
