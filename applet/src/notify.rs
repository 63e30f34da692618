//! Desktop notifications (`org.freedesktop.Notifications` on the session bus).
//!
//! Best effort: without a notification service (a bare session, a test bus) every call fails
//! and is logged at debug level; the applet carries on.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tracing::debug;
use zbus::Variant;

use crate::model::Notice;

const APP_NAME: &str = "x2god-tray";
const ICON: &str = "network-server";

/// The notification server as the spec defines it.
#[zbus::proxy(
    interface = "org.freedesktop.Notifications",
    default_service = "org.freedesktop.Notifications",
    default_path = "/org/freedesktop/Notifications"
)]
trait Notifications {
    /// Shows (or replaces, `replaces_id` ≠ 0) a notification; returns its id.
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: &str,
        replaces_id: u32,
        app_icon: &str,
        summary: &str,
        body: &str,
        actions: &[&str],
        hints: HashMap<&str, Variant<'_>>,
        expire_timeout: i32,
    ) -> zbus::Result<u32>;

    /// What the server can do (`actions`, `body`, …).
    fn get_capabilities(&self) -> zbus::Result<Vec<String>>;

    /// Takes a notification down.
    fn close_notification(&self, id: u32) -> zbus::Result<()>;

    /// The person chose an action of notification `id`.
    #[zbus(signal)]
    fn action_invoked(&self, id: u32, action_key: String) -> zbus::Result<()>;

    /// Notification `id` went (expired, dismissed, closed).
    #[zbus(signal)]
    fn notification_closed(&self, id: u32, reason: u32) -> zbus::Result<()>;
}

/// Shows notices in order, off the caller's path: a slow or absent notification server never
/// delays the menu.
#[derive(Clone, Debug)]
pub struct Notifier {
    conn: zbus::Connection,
    queue: mpsc::UnboundedSender<Notice>,
}

/// The spec's body markup is a subset of HTML: text from servers and profile names is
/// escaped so it is shown as written.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn hints(urgent: bool) -> HashMap<&'static str, Variant<'static>> {
    let mut h = HashMap::new();
    h.insert("urgency", Variant::U8(if urgent { 2 } else { 1 }));
    h.insert("desktop-entry", Variant::from(APP_NAME));
    h
}

impl Notifier {
    /// Starts the queue on `conn` (the session bus connection of the x2god client).
    pub fn start(conn: zbus::Connection) -> Notifier {
        let (queue, mut rx) = mpsc::unbounded_channel::<Notice>();
        let task_conn = conn.clone();
        tokio::spawn(async move {
            // One bubble per key: a session's next change replaces its last one.
            let mut shown: HashMap<String, u32> = HashMap::new();
            let proxy = match NotificationsProxy::new(&task_conn).await {
                Ok(p) => p,
                Err(e) => {
                    debug!(error = %e, "no notifications: cannot build the proxy");
                    return;
                }
            };
            while let Some(n) = rx.recv().await {
                let replaces = shown.get(&n.key).copied().unwrap_or(0);
                match proxy
                    .notify(
                        APP_NAME,
                        replaces,
                        ICON,
                        &n.summary,
                        &escape(&n.body),
                        &[],
                        hints(n.urgent),
                        -1,
                    )
                    .await
                {
                    Ok(id) => {
                        shown.insert(n.key, id);
                    }
                    Err(e) => debug!(error = %e, summary = %n.summary, "notification not shown"),
                }
            }
        });
        Notifier { conn, queue }
    }

    /// Queues `notice`.
    pub fn show(&self, notice: Notice) {
        debug!(summary = %notice.summary, body = %notice.body, "notice");
        // Only fails once the queue's task ended (no proxy): nothing to show then.
        let _ = self.queue.send(notice);
    }

    /// Shows a notification with `actions` (key, label) and waits for the person's choice:
    /// `Ok(Some(key))`, or `Ok(None)` when it was dismissed. `Err` when the server cannot
    /// show actions (or there is none). Dropping the future takes the notification down.
    pub async fn ask(
        &self,
        summary: &str,
        body: &str,
        actions: &[(&str, &str)],
    ) -> Result<Option<String>, zbus::Error> {
        let proxy = NotificationsProxy::new(&self.conn).await?;
        let caps = proxy.get_capabilities().await?;
        if !caps.iter().any(|c| c == "actions") {
            return Err(zbus::Error::Failure(
                "the notification server shows no actions".to_owned(),
            ));
        }
        // Subscribed before Notify: an answer right after it is not missed.
        let mut invoked = proxy.receive_action_invoked().await?;
        let mut closed = proxy.receive_notification_closed().await?;
        let flat: Vec<&str> = actions.iter().flat_map(|(k, l)| [*k, *l]).collect();
        let mut h = hints(true);
        h.insert("resident", Variant::Bool(true));
        let id = proxy
            .notify(APP_NAME, 0, ICON, summary, &escape(body), &flat, h, 0)
            .await?;
        let guard = CloseOnDrop {
            proxy: Arc::new(proxy),
            id,
            armed: true,
        };
        let answer = loop {
            tokio::select! {
                s = invoked.next() => match s {
                    Some(s) => match s.args() {
                        Ok(a) if a.id == id => break Some(a.action_key),
                        _ => {}
                    },
                    None => break None,
                },
                s = closed.next() => match s {
                    Some(s) => match s.args() {
                        Ok(a) if a.id == id => break None,
                        _ => {}
                    },
                    None => break None,
                },
            }
        };
        guard.close().await;
        Ok(answer)
    }
}

/// Takes the question down when the answer is no longer wanted (x2god cancelled it).
struct CloseOnDrop {
    proxy: Arc<NotificationsProxy<'static>>,
    id: u32,
    armed: bool,
}

impl CloseOnDrop {
    async fn close(mut self) {
        self.armed = false;
        // A resident notification stays after a click on some servers.
        let _ = self.proxy.close_notification(self.id).await;
    }
}

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (proxy, id) = (self.proxy.clone(), self.id);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = proxy.close_notification(id).await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(escape("<b>&x</b>"), "&lt;b&gt;&amp;x&lt;/b&gt;");
    }
}
