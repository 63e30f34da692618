//! The workspace's shape, checked: no module imports a module that imports it back (directly
//! or around a longer circle), in any crate of the workspace, and no source file of the daemon
//! carries more than [`MAX_LINES`] lines of non-test code.
//!
//! Modules are read with `syn`; an edge goes from a module to the module a `crate::`,
//! `super::` or `self::` path names, seen through re-exports (`pub use x::Y` in a parent counts
//! as `x`). Test code (`#[cfg(test)]`) is left out: it is no part of the design.
//!
//! `cargo test -p x2god --lib layering` runs it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// The most lines of non-test code one daemon source file may have.
const MAX_LINES: usize = 700;

/// The crates of the workspace whose modules are checked, by their source folders.
const CRATES: [&str; 6] = [
    "daemon/src",
    "proto-dbus/src",
    "client-lib/src",
    "cli/src",
    "applet/src",
    "tests/src",
];

/// The workspace checked: this one, or the tree `X2GOD_WORKSPACE` names (to check another
/// checkout, e.g. an older commit, with this checker).
fn workspace() -> PathBuf {
    match std::env::var_os("X2GOD_WORKSPACE") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_owned(),
    }
}

fn is_test_cfg(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.meta.require_list().is_ok_and(|l| {
                l.tokens
                    .to_string()
                    .split(|c: char| !c.is_alphanumeric())
                    .any(|w| w == "test")
            })
    })
}

/// One module: its path (`control::listing`), the paths it names, its re-exports and
/// submodules.
#[derive(Default, Debug)]
struct Module {
    /// Paths starting with `crate`, `super` or `self`, as written.
    uses: Vec<Vec<String>>,
    /// `pub use a::b::Name [as Alias]`: the alias and the path.
    reexports: Vec<(String, Vec<String>)>,
    /// Inline and file submodules.
    children: BTreeSet<String>,
}

/// Collects every path of a module's non-test items (submodules are modules of their own).
#[derive(Default)]
struct Collector {
    paths: Vec<Vec<String>>,
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segs: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        if matches!(
            segs.first().map(String::as_str),
            Some("crate" | "super" | "self")
        ) {
            self.paths.push(segs);
        }
        syn::visit::visit_path(self, p);
    }

    fn visit_item_mod(&mut self, _: &'ast syn::ItemMod) {}

    // Macro arguments (`format!`, `matches!`, …) are tokens to syn: read their paths by hand.
    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        macro_paths(m.tokens.clone(), &mut self.paths);
        syn::visit::visit_macro(self, m);
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let mut out = Vec::new();
        use_paths(&u.tree, Vec::new(), &mut out);
        self.paths.extend(out.into_iter().map(|(_, p)| p));
    }

    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {}
}

/// The `crate::…`, `super::…` and `self::…` paths in a token stream.
fn macro_paths(tokens: proc_macro2::TokenStream, out: &mut Vec<Vec<String>>) {
    use proc_macro2::TokenTree;
    let flat: Vec<TokenTree> = tokens.into_iter().collect();
    let mut i = 0;
    while i < flat.len() {
        match &flat[i] {
            TokenTree::Group(g) => macro_paths(g.stream(), out),
            TokenTree::Ident(id)
                if ["crate", "super", "self"].contains(&id.to_string().as_str()) =>
            {
                let mut path = vec![id.to_string()];
                let mut j = i + 1;
                while let (
                    Some(TokenTree::Punct(a)),
                    Some(TokenTree::Punct(b)),
                    Some(TokenTree::Ident(next)),
                ) = (flat.get(j), flat.get(j + 1), flat.get(j + 2))
                {
                    if a.as_char() != ':' || b.as_char() != ':' {
                        break;
                    }
                    path.push(next.to_string());
                    j += 3;
                }
                if path.len() > 1 {
                    out.push(path);
                }
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
}

/// The paths of a use tree, each with the name it binds.
fn use_paths(tree: &syn::UseTree, prefix: Vec<String>, out: &mut Vec<(String, Vec<String>)>) {
    match tree {
        syn::UseTree::Path(p) => {
            let mut next = prefix;
            next.push(p.ident.to_string());
            use_paths(&p.tree, next, out);
        }
        syn::UseTree::Name(n) => {
            let mut path = prefix;
            let name = n.ident.to_string();
            if name != "self" {
                path.push(name.clone());
            }
            let bound = path.last().cloned().unwrap_or(name);
            out.push((bound, path));
        }
        syn::UseTree::Rename(r) => {
            let mut path = prefix;
            path.push(r.ident.to_string());
            out.push((r.rename.to_string(), path));
        }
        syn::UseTree::Glob(_) => out.push(("*".into(), prefix)),
        syn::UseTree::Group(g) => {
            for t in &g.items {
                use_paths(t, prefix.clone(), out);
            }
        }
    }
}

/// Reads the module in `items` (of file `file`) as `name`, and its submodules.
fn read_items(
    name: &str,
    items: &[syn::Item],
    dir: &Path,
    modules: &mut BTreeMap<String, Module>,
    files: &mut Vec<(PathBuf, String)>,
) {
    let mut module = Module::default();
    for item in items {
        match item {
            syn::Item::Mod(m) if is_test_cfg(&m.attrs) => {}
            syn::Item::Mod(m) => {
                let child = m.ident.to_string();
                let full = if name.is_empty() {
                    child.clone()
                } else {
                    format!("{name}::{child}")
                };
                module.children.insert(child.clone());
                match &m.content {
                    Some((_, inner)) => read_items(&full, inner, &dir.join(&child), modules, files),
                    None => read_file(&full, dir, &child, modules, files),
                }
            }
            syn::Item::Use(u) if is_test_cfg(&u.attrs) => {}
            syn::Item::Use(u) if !matches!(u.vis, syn::Visibility::Inherited) => {
                let mut out = Vec::new();
                use_paths(&u.tree, Vec::new(), &mut out);
                module.reexports.extend(out);
            }
            other => {
                let attrs: &[syn::Attribute] = match other {
                    syn::Item::Fn(f) => &f.attrs,
                    syn::Item::Impl(i) => &i.attrs,
                    syn::Item::Struct(s) => &s.attrs,
                    syn::Item::Enum(e) => &e.attrs,
                    syn::Item::Const(c) => &c.attrs,
                    syn::Item::Static(s) => &s.attrs,
                    syn::Item::Use(u) => &u.attrs,
                    syn::Item::Trait(t) => &t.attrs,
                    syn::Item::Macro(m) => &m.attrs,
                    _ => &[],
                };
                if !is_test_cfg(attrs) {
                    let mut c = Collector::default();
                    c.visit_item(other);
                    module.uses.extend(c.paths);
                }
            }
        }
    }
    modules.insert(name.to_owned(), module);
}

/// Reads module `name` from `dir/child.rs` or `dir/child/mod.rs`.
fn read_file(
    name: &str,
    dir: &Path,
    child: &str,
    modules: &mut BTreeMap<String, Module>,
    files: &mut Vec<(PathBuf, String)>,
) {
    let (file, subdir) = if dir.join(format!("{child}.rs")).exists() {
        (dir.join(format!("{child}.rs")), dir.join(child))
    } else {
        (dir.join(child).join("mod.rs"), dir.join(child))
    };
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let parsed = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    files.push((file, name.to_owned()));
    read_items(name, &parsed.items, &subdir, modules, files);
}

/// Every module of the crate whose root is `root` (`lib.rs` or `main.rs`).
fn read_crate(root: &Path) -> (BTreeMap<String, Module>, Vec<(PathBuf, String)>) {
    let mut modules = BTreeMap::new();
    let mut files = Vec::new();
    let text = std::fs::read_to_string(root).unwrap();
    let parsed = syn::parse_file(&text).unwrap();
    files.push((root.to_owned(), String::new()));
    read_items(
        "",
        &parsed.items,
        root.parent().unwrap(),
        &mut modules,
        &mut files,
    );
    (modules, files)
}

/// The module a path written in module `from` names (the longest module prefix, seen through
/// re-exports), if it names one.
fn resolve(modules: &BTreeMap<String, Module>, from: &str, path: &[String]) -> Option<String> {
    resolve_within(modules, from, path, 0)
}

/// [`resolve`], `depth` re-exports deep: a re-export of a name of the same module (`pub(crate)
/// use my_macro;`) would otherwise be followed forever.
fn resolve_within(
    modules: &BTreeMap<String, Module>,
    from: &str,
    path: &[String],
    depth: usize,
) -> Option<String> {
    let mut at: Vec<String> = if from.is_empty() {
        Vec::new()
    } else {
        from.split("::").map(str::to_owned).collect()
    };
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            at.clear();
            rest = &rest[1..];
        }
        Some("self") => rest = &rest[1..],
        Some("super") => {
            while rest.first().map(String::as_str) == Some("super") {
                at.pop()?;
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    while let Some(seg) = rest.first() {
        let here = at.join("::");
        let module = modules.get(&here)?;
        if module.children.contains(seg) {
            at.push(seg.clone());
            rest = &rest[1..];
            continue;
        }
        // A re-export: follow it to where the item lives.
        let target = module.reexports.iter().find(|(bound, _)| bound == seg);
        match target {
            Some((_, target)) if depth < 16 => {
                let relative = [&["self".to_owned()], target.as_slice()].concat();
                let resolved = resolve_within(modules, &here, target, depth + 1)
                    .or_else(|| resolve_within(modules, &here, &relative, depth + 1))?;
                at = if resolved.is_empty() {
                    Vec::new()
                } else {
                    resolved.split("::").map(str::to_owned).collect()
                };
                rest = &rest[1..];
            }
            _ => break,
        }
    }
    Some(at.join("::"))
}

/// Module → the modules it imports, without itself.
fn edges(modules: &BTreeMap<String, Module>) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, m) in modules {
        let entry = out.entry(name.clone()).or_default();
        for p in &m.uses {
            if let Some(target) = resolve(modules, name, p)
                && &target != name
                && !target.is_empty()
                // A module's own submodules are its parts, not its dependencies.
                && !target.starts_with(&format!("{name}::"))
                && !name.is_empty()
            {
                entry.insert(target);
            }
        }
    }
    out
}

/// The circles of `edges`: its strongly connected components of more than one module.
fn circles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Tarjan's algorithm, iterative enough for a few hundred modules.
    struct State<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: HashMap<&'a str, usize>,
        low: HashMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on.insert(v);
        for w in s.edges.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low[v];
                s.low.insert(v, lv.min(lw));
            } else if s.on.contains(w) {
                let iw = s.index[w];
                let lv = s.low[v];
                s.low.insert(v, lv.min(iw));
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                comp.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = State {
        edges,
        index: HashMap::new(),
        low: HashMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

fn crate_roots(src: &Path) -> Vec<PathBuf> {
    ["lib.rs", "main.rs"]
        .iter()
        .map(|f| src.join(f))
        .filter(|p| p.exists())
        .collect()
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let mut found = Vec::new();
    for src in CRATES {
        for root in crate_roots(&workspace().join(src)) {
            let (modules, _) = read_crate(&root);
            assert!(
                modules.len() > 1 || !root.ends_with("daemon/src/lib.rs"),
                "{src}: no modules read"
            );
            for circle in circles(&edges(&modules)) {
                found.push(format!("{}: {}", root.display(), circle.join(" ↔ ")));
            }
        }
    }
    assert!(
        found.is_empty(),
        "modules importing each other:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_daemon_source_file_has_more_than_700_lines_of_code() {
    let (_, files) = read_crate(&workspace().join("daemon/src/lib.rs"));
    let mut long = Vec::new();
    for (file, _) in &files {
        let text = std::fs::read_to_string(file).unwrap();
        // The file's own tests come last, after `#[cfg(test)]`.
        let code = text
            .lines()
            .take_while(|l| l.trim() != "#[cfg(test)]")
            .count();
        if code > MAX_LINES {
            long.push(format!("{} ({code} lines)", file.display()));
        }
    }
    assert!(
        long.is_empty(),
        "over {MAX_LINES} lines of non-test code:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_checker_sees_a_circle_through_a_reexport_and_a_macro() {
    let src = |s: &str| syn::parse_file(s).unwrap().items;
    let mut modules = BTreeMap::new();
    let mut files = Vec::new();
    read_items(
        "",
        &src(
            "mod a { use super::b::x; pub fn f() {} } mod b { pub use self::c::x; mod c { pub fn x() { crate::a::f() } } } mod d { fn g() -> String { format!(\"{}\", crate::e::h()) } } mod e { pub fn h() -> u8 { super::d::g(); 1 } }",
        ),
        Path::new("/nonexistent"),
        &mut modules,
        &mut files,
    );
    let e = edges(&modules);
    assert!(e["a"].contains("b::c"), "{e:?}");
    assert!(e["b::c"].contains("a"), "{e:?}");
    assert!(e["d"].contains("e"), "a path in a macro: {e:?}");
    assert_eq!(
        circles(&e),
        vec![
            vec!["a".to_owned(), "b::c".to_owned()],
            vec!["d".to_owned(), "e".to_owned()]
        ]
    );
}
