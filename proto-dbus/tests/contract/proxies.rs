//! The `#[proxy]` traits of `src/proxy.rs` declare exactly what the interface XML declares:
//! every method (name, argument names, in and out signatures), property (name, type, access)
//! and signal (name, argument names, signature), and nothing else.
//!
//! The proxies are read from their source with `syn`; the Rust types used there are mapped to
//! D-Bus signatures by a small table, and a type the table does not know fails the test (add
//! it to [`signature`]).

use std::collections::BTreeMap;

use syn::{
    Attribute, FnArg, GenericArgument, Item, LitStr, Pat, PathArguments, ReturnType, TraitItem,
    Type,
};

use super::xml;

/// What a proxy trait declares, in the terms of the XML.
#[derive(Debug, Default)]
struct Declared {
    /// Member name → (argument names and types in, types out).
    methods: BTreeMap<String, (Vec<xml::Arg>, Vec<String>)>,
    /// Member name → arguments.
    signals: BTreeMap<String, Vec<xml::Arg>>,
    /// Property name → (type, readable, writable).
    properties: BTreeMap<String, (String, bool, bool)>,
}

/// `snake_case` → `PascalCase`, as zbus names members.
fn pascal(ident: &str) -> String {
    ident
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The type aliases of the file (`SessionDict`), resolved where they are used.
type Aliases = BTreeMap<String, Type>;

fn generic_types(args: &PathArguments) -> Vec<&Type> {
    match args {
        PathArguments::AngleBracketed(a) => a
            .args
            .iter()
            .filter_map(|g| match g {
                GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The D-Bus signature of a Rust type of the proxies.
fn signature(ty: &Type, aliases: &Aliases) -> String {
    match ty {
        Type::Reference(r) => signature(&r.elem, aliases),
        Type::Paren(p) => signature(&p.elem, aliases),
        Type::Path(p) => {
            let last = p.path.segments.last().expect("a type path has a segment");
            let name = last.ident.to_string();
            let args = generic_types(&last.arguments);
            let arg = |i: usize| signature(args[i], aliases);
            match name.as_str() {
                "str" | "String" => "s".into(),
                "bool" => "b".into(),
                "u8" => "y".into(),
                "i16" => "n".into(),
                "u16" => "q".into(),
                "i32" => "i".into(),
                "u32" => "u".into(),
                "i64" => "x".into(),
                "u64" => "t".into(),
                "f64" => "d".into(),
                "ObjectPath" | "OwnedObjectPath" => "o".into(),
                "Variant" | "OwnedVariant" => "v".into(),
                "Vec" => format!("a{}", arg(0)),
                "HashMap" | "BTreeMap" => format!("a{{{}{}}}", arg(0), arg(1)),
                other => match aliases.get(other) {
                    Some(t) => signature(t, aliases),
                    None => panic!("the proxy test does not know the type {other}: add it"),
                },
            }
        }
        // A tuple inside another type is a struct: `(sb)`.
        Type::Tuple(t) => format!(
            "({})",
            t.elems
                .iter()
                .map(|e| signature(e, aliases))
                .collect::<String>()
        ),
        other => panic!("the proxy test does not know the type {other:?}: add it"),
    }
}

/// The out signatures of a return type: `Result<T, _>` is `T`; a tuple is one out argument per
/// element (as zbus sends a method's tuple), `()` none.
fn outputs(ret: &ReturnType, aliases: &Aliases) -> Vec<String> {
    let ReturnType::Type(_, ty) = ret else {
        return Vec::new();
    };
    let mut ty: &Type = ty;
    if let Type::Path(p) = ty
        && let Some(last) = p.path.segments.last()
        && last.ident == "Result"
    {
        ty = generic_types(&last.arguments)[0];
    }
    match ty {
        Type::Tuple(t) => t.elems.iter().map(|e| signature(e, aliases)).collect(),
        other => vec![signature(other, aliases)],
    }
}

/// The `#[zbus(…)]` attributes of an item: (property, signal, name override).
fn zbus_attrs(attrs: &[Attribute]) -> (bool, bool, Option<String>) {
    let (mut property, mut signal, mut name) = (false, false, None);
    for a in attrs.iter().filter(|a| a.path().is_ident("zbus")) {
        a.parse_nested_meta(|m| {
            if m.path.is_ident("property") {
                property = true;
            } else if m.path.is_ident("signal") {
                signal = true;
            } else if m.path.is_ident("name") {
                name = Some(m.value()?.parse::<LitStr>()?.value());
                return Ok(());
            }
            // Options of `property(…)` and the like do not change the interface.
            if m.input.peek(syn::token::Paren) {
                m.parse_nested_meta(|_| Ok(()))?;
            } else if m.input.peek(syn::Token![=]) {
                m.value()?.parse::<syn::Expr>()?;
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("cannot read #[zbus(…)]: {e}"));
    }
    (property, signal, name)
}

/// The interface named by `#[proxy(interface = "…")]`, if `attrs` has it.
fn proxy_interface(attrs: &[Attribute]) -> Option<String> {
    let mut interface = None;
    for a in attrs.iter().filter(|a| a.path().is_ident("proxy")) {
        a.parse_nested_meta(|m| {
            let value = m.value()?.parse::<LitStr>()?.value();
            if m.path.is_ident("interface") {
                interface = Some(value);
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("cannot read #[proxy(…)]: {e}"));
    }
    interface
}

/// Every proxy trait of `src/proxy.rs`: interface name → what it declares.
fn proxies() -> BTreeMap<String, Declared> {
    let path = xml::crate_dir().join("src/proxy.rs");
    let source = std::fs::read_to_string(&path).unwrap();
    let file = syn::parse_file(&source).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let aliases: Aliases = file
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Type(t) => Some((t.ident.to_string(), (*t.ty).clone())),
            _ => None,
        })
        .collect();
    let mut out = BTreeMap::new();
    for item in &file.items {
        let Item::Trait(t) = item else { continue };
        let Some(interface) = proxy_interface(&t.attrs) else {
            continue;
        };
        let mut d = Declared::default();
        for ti in &t.items {
            let TraitItem::Fn(f) = ti else {
                panic!("{interface}: only methods are expected in a proxy trait");
            };
            let (property, signal, rename) = zbus_attrs(&f.attrs);
            let ident = f.sig.ident.to_string();
            let args: Vec<xml::Arg> = f
                .sig
                .inputs
                .iter()
                .filter_map(|a| match a {
                    FnArg::Typed(p) => Some(xml::Arg {
                        name: match &*p.pat {
                            Pat::Ident(i) => Some(i.ident.to_string()),
                            _ => None,
                        },
                        ty: signature(&p.ty, &aliases),
                    }),
                    FnArg::Receiver(_) => None,
                })
                .collect();
            let outs = outputs(&f.sig.output, &aliases);
            if property {
                let setter = !args.is_empty();
                let base = if setter {
                    ident.strip_prefix("set_").unwrap_or(&ident)
                } else {
                    &ident
                };
                let name = rename.unwrap_or_else(|| pascal(base));
                let ty = if setter {
                    args[0].ty.clone()
                } else {
                    outs.concat()
                };
                let e = d
                    .properties
                    .entry(name)
                    .or_insert((ty.clone(), false, false));
                assert_eq!(e.0, ty, "{interface}: getter and setter disagree");
                if setter {
                    e.2 = true;
                } else {
                    e.1 = true;
                }
            } else if signal {
                d.signals
                    .insert(rename.unwrap_or_else(|| pascal(&ident)), args);
            } else {
                d.methods
                    .insert(rename.unwrap_or_else(|| pascal(&ident)), (args, outs));
            }
        }
        assert!(
            out.insert(interface.clone(), d).is_none(),
            "two proxies of {interface}"
        );
    }
    out
}

/// What the XML says and the proxy does not, in words.
fn compare(iface: &xml::Interface, d: &Declared) -> Vec<String> {
    let mut problems = Vec::new();
    let n = &iface.name;
    for m in &iface.methods {
        let outs: Vec<String> = m.outputs.iter().map(|a| a.ty.clone()).collect();
        match d.methods.get(&m.name) {
            None => problems.push(format!("{n}: method {} is not in the proxy", m.name)),
            Some((ins, pouts)) => {
                if ins != &m.inputs {
                    problems.push(format!(
                        "{n}.{}: the proxy takes {ins:?}, the interface {:?}",
                        m.name, m.inputs
                    ));
                }
                if pouts != &outs {
                    problems.push(format!(
                        "{n}.{}: the proxy returns {pouts:?}, the interface {outs:?}",
                        m.name
                    ));
                }
            }
        }
    }
    for s in &iface.signals {
        match d.signals.get(&s.name) {
            None => problems.push(format!("{n}: signal {} is not in the proxy", s.name)),
            Some(args) if args != &s.args => problems.push(format!(
                "{n}.{}: the proxy's signal has {args:?}, the interface's {:?}",
                s.name, s.args
            )),
            Some(_) => {}
        }
    }
    for p in &iface.properties {
        let access = |r: bool, w: bool| match (r, w) {
            (true, true) => "readwrite",
            (false, true) => "write",
            _ => "read",
        };
        match d.properties.get(&p.name) {
            None => problems.push(format!("{n}: property {} is not in the proxy", p.name)),
            Some((ty, r, w)) if ty != &p.ty || access(*r, *w) != p.access => {
                problems.push(format!(
                    "{n}.{}: the proxy has {ty} ({}), the interface {} ({})",
                    p.name,
                    access(*r, *w),
                    p.ty,
                    p.access
                ))
            }
            Some(_) => {}
        }
    }
    let extra = |kind: &str, names: Vec<&String>, known: &dyn Fn(&str) -> bool| {
        names
            .into_iter()
            .filter(|name| !known(name))
            .map(|name| format!("{n}: the proxy has {kind} {name}, the interface does not"))
            .collect::<Vec<_>>()
    };
    problems.extend(extra("method", d.methods.keys().collect(), &|x| {
        iface.methods.iter().any(|m| m.name == x)
    }));
    problems.extend(extra("signal", d.signals.keys().collect(), &|x| {
        iface.signals.iter().any(|s| s.name == x)
    }));
    problems.extend(extra("property", d.properties.keys().collect(), &|x| {
        iface.properties.iter().any(|p| p.name == x)
    }));
    problems
}

#[test]
fn proxies_declare_exactly_the_interfaces() {
    let mut proxies = proxies();
    let mut problems = Vec::new();
    for iface in xml::all() {
        match proxies.remove(&iface.name) {
            Some(d) => problems.extend(compare(&iface, &d)),
            None => problems.push(format!("no proxy of {}", iface.name)),
        }
    }
    for name in proxies.keys() {
        problems.push(format!("the proxy of {name} has no interface file"));
    }
    assert!(
        problems.is_empty(),
        "proxies and interfaces differ:\n{}",
        problems.join("\n")
    );
}

#[test]
fn unknown_types_are_refused() {
    let ty: Type = syn::parse_str("std::time::Duration").unwrap();
    let r = std::panic::catch_unwind(|| signature(&ty, &Aliases::new()));
    assert!(r.is_err());
    let ty: Type = syn::parse_str("HashMap<&str, zbus::Variant<'_>>").unwrap();
    assert_eq!(signature(&ty, &Aliases::new()), "a{sv}");
}
