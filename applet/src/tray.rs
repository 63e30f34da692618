//! The StatusNotifierItem (via ksni): shows the [`Model`]'s menu and hands clicks to the
//! action loop.
//!
//! ksni serves on its own zbus 5 connection to the session bus; it never shares the x2god
//! client's (zbus 6) connection. Menu callbacks run inside ksni's service with its state
//! locked, so they only queue the action: the calls to x2god happen elsewhere.

use ksni::menu::{MenuItem, StandardItem, SubMenu};
use ksni::{Status, ToolTip};
use tokio::sync::mpsc::UnboundedSender;
use tracing::{info, warn};

use crate::model::{Action, Entry, Model};

/// The tray item.
pub struct Tray {
    /// What is shown; replaced by the event loop on every change.
    pub model: Model,
    /// Where clicks go.
    pub actions: UnboundedSender<Action>,
}

/// dbusmenu labels mark access keys with `_`; session names are full of them, and must show
/// as written.
pub fn escape_label(s: &str) -> String {
    s.replace('_', "__")
}

/// Tooltip descriptions may carry simple markup; names must not.
fn escape_markup(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn convert(entries: Vec<Entry>) -> Vec<MenuItem<Tray>> {
    entries
        .into_iter()
        .map(|e| match e {
            Entry::Separator => MenuItem::Separator,
            Entry::Sub { label, children } => SubMenu {
                label: escape_label(&label),
                submenu: convert(children),
                ..Default::default()
            }
            .into(),
            Entry::Item {
                label,
                enabled,
                action,
            } => StandardItem {
                label: escape_label(&label),
                enabled,
                activate: Box::new(move |t: &mut Tray| {
                    if let Some(a) = &action {
                        // Fails only while the applet shuts down.
                        let _ = t.actions.send(a.clone());
                    }
                }),
                ..Default::default()
            }
            .into(),
        })
        .collect()
}

impl ksni::Tray for Tray {
    // A left click opens the menu: the applet has no window.
    const MENU_ON_ACTIVATE: bool = true;

    fn id(&self) -> String {
        "x2god-tray".into()
    }

    fn title(&self) -> String {
        "X2Go sessions".into()
    }

    fn icon_name(&self) -> String {
        "network-server".into()
    }

    fn status(&self) -> Status {
        if self.model.needs_attention() {
            Status::NeedsAttention
        } else {
            Status::Active
        }
    }

    fn tool_tip(&self) -> ToolTip {
        ToolTip {
            title: "X2Go sessions".into(),
            description: escape_markup(&self.model.summary()),
            ..Default::default()
        }
    }

    fn menu(&self) -> Vec<MenuItem<Self>> {
        convert(self.model.menu())
    }

    fn watcher_online(&self) {
        info!("a StatusNotifierWatcher appeared: the tray item is registered");
    }

    fn watcher_offline(&self, reason: ksni::OfflineReason) -> bool {
        // Keep serving: a panel that starts (or restarts) later picks the item up.
        warn!(
            ?reason,
            "no StatusNotifierWatcher (no panel shows tray items yet)"
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_keep_underscores() {
        assert_eq!(
            escape_label("u-50-1_stRxterm_dp24"),
            "u-50-1__stRxterm__dp24"
        );
        assert_eq!(escape_markup("a<b>&"), "a&lt;b&gt;&amp;");
    }
}
