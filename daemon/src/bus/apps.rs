//! Published applications as `a{sv}`, shaped for an applet menu.

use std::collections::HashMap;

use zbus::{OwnedVariant, Str};

use crate::control::AppsAnswer;
use crate::x2go::apps::{AppEntry, MenuItem};

fn s(v: &str) -> OwnedVariant {
    OwnedVariant::from(Str::from(v.to_owned()))
}

fn owned<'a>(v: impl Into<zbus::Variant<'a>>) -> OwnedVariant {
    // Arrays and dictionaries of plain values always convert; an empty string stands in if not.
    OwnedVariant::try_from(v.into()).unwrap_or_else(|_| s(""))
}

fn item_dict(i: &MenuItem) -> HashMap<String, OwnedVariant> {
    let mut d = HashMap::new();
    d.insert("name".into(), s(&i.name));
    d.insert("comment".into(), s(&i.comment));
    d.insert("exec".into(), s(&i.exec));
    d.insert("terminal".into(), OwnedVariant::from(i.terminal));
    d.insert("icon".into(), owned(i.icon.clone().unwrap_or_default()));
    d.insert("icon_format".into(), s(i.icon_format.unwrap_or("")));
    d
}

fn entry_dict(e: &AppEntry) -> HashMap<String, OwnedVariant> {
    let mut d = HashMap::new();
    d.insert("names".into(), owned(e.names.clone()));
    d.insert("comments".into(), owned(e.comments.clone()));
    d.insert("exec".into(), s(&e.exec));
    d.insert("terminal".into(), OwnedVariant::from(e.terminal));
    d.insert("categories".into(), owned(e.categories.clone()));
    d.insert("icon".into(), owned(e.icon.clone().unwrap_or_default()));
    d.insert("icon_format".into(), s(e.icon_format.unwrap_or("")));
    d
}

/// The reply of `PublishedApplications`.
pub fn answer_dict(lang: &str, answer: AppsAnswer) -> HashMap<String, OwnedVariant> {
    let mut out = HashMap::new();
    out.insert("lang".to_owned(), s(lang));
    match answer {
        AppsAnswer::Menu(menu) => {
            let menu: HashMap<String, Vec<HashMap<String, OwnedVariant>>> = menu
                .categories
                .iter()
                .map(|(cat, items)| (cat.clone(), items.iter().map(item_dict).collect()))
                .collect();
            out.insert("menu".to_owned(), owned(menu));
        }
        AppsAnswer::Raw(entries) => {
            let list: Vec<HashMap<String, OwnedVariant>> = entries.iter().map(entry_dict).collect();
            out.insert("entries".to_owned(), owned(list));
        }
        AppsAnswer::VeryRaw(text) => {
            out.insert("text".to_owned(), s(&text));
        }
    }
    out
}
