//! The keyboard of a running session, set the way python-x2go does (`set_keyboard` in
//! `backends/terminal/plain.py`): `setxkbmap` on the session's display after
//! `x2goruncommand` and after each resume. The agent itself only gets the keyboard type
//! (`x2gostartagent` arguments 5–7); the layout's variant has no place there.

use super::validate::KeyboardSetting;

/// What `setxkbmap` sets in a session: a model, a layout and a variant, each validated by
/// [`KeyboardSetting`] (no shell metacharacter, no leading `-`) and passed as its own word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKeyboard {
    model: Option<KeyboardSetting>,
    layout: Option<KeyboardSetting>,
    variant: Option<KeyboardSetting>,
}

/// The words python-x2go uses for "not set".
fn set(s: &KeyboardSetting) -> Option<KeyboardSetting> {
    (!matches!(s.as_str(), "" | "null")).then(|| s.clone())
}

impl SessionKeyboard {
    /// The keyboard to set for `kbtype` (`<model>/<layout>`, `auto` or python-x2go's unset
    /// `null/null`), `kblayout` and `kbvariant`; `None` when there is nothing to set: nothing
    /// was asked for, or `auto`, where the server's agent takes the client's keyboard itself.
    /// A layout in `kblayout` wins over the one in `kbtype`.
    pub fn new(
        kbtype: &KeyboardSetting,
        kblayout: &KeyboardSetting,
        kbvariant: Option<&KeyboardSetting>,
    ) -> Option<SessionKeyboard> {
        if kbtype.as_str() == "auto" {
            return None;
        }
        let (model, type_layout) = match kbtype.as_str().split_once('/') {
            Some((m, l)) => (m, l),
            None => (kbtype.as_str(), ""),
        };
        // Both halves come from a validated setting, so they are valid on their own.
        let part = |s: &str| KeyboardSetting::parse(s).ok().as_ref().and_then(set);
        let kb = SessionKeyboard {
            model: part(model),
            layout: set(kblayout).or_else(|| part(type_layout)),
            variant: kbvariant.and_then(set),
        };
        (kb.model.is_some() || kb.layout.is_some() || kb.variant.is_some()).then_some(kb)
    }

    /// The arguments of `setxkbmap`: `-model`, `-layout` and `-variant` with their values.
    pub fn setxkbmap_args(&self) -> Vec<&str> {
        let mut args = Vec::new();
        for (flag, value) in [
            ("-model", &self.model),
            ("-layout", &self.layout),
            ("-variant", &self.variant),
        ] {
            if let Some(v) = value {
                args.push(flag);
                args.push(v.as_str());
            }
        }
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kb(s: &str) -> KeyboardSetting {
        KeyboardSetting::parse(s).unwrap()
    }

    fn args(t: &str, l: &str, v: Option<&str>) -> Option<Vec<String>> {
        let v = v.map(kb);
        SessionKeyboard::new(&kb(t), &kb(l), v.as_ref())
            .map(|k| k.setxkbmap_args().into_iter().map(str::to_owned).collect())
    }

    #[test]
    fn like_python_x2go() {
        assert_eq!(
            args("pc105/de", "de", Some("nodeadkeys")).unwrap(),
            ["-model", "pc105", "-layout", "de", "-variant", "nodeadkeys"]
        );
        // The layout of the type fills a missing kblayout; kblayout wins.
        assert_eq!(
            args("pc105/de", "null", None).unwrap(),
            ["-model", "pc105", "-layout", "de"]
        );
        assert_eq!(
            args("pc104/us", "fr", None).unwrap(),
            ["-model", "pc104", "-layout", "fr"]
        );
        assert_eq!(
            args("null/null", "us,de", Some(",nodeadkeys")).unwrap(),
            ["-layout", "us,de", "-variant", ",nodeadkeys"]
        );
        // auto: the agent reads the client's keyboard; nothing set: nothing run.
        assert_eq!(args("auto", "de", Some("nodeadkeys")), None);
        assert_eq!(args("null/null", "null", None), None);
        assert_eq!(args("null/null", "null", Some("")), None);
    }
}
