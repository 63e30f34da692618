//! The title of a session's local window, set as python-x2go does
//! (`X2GoTerminalSession._set_session_window_title`): the agent names the window nxproxy shows
//! a desktop or shadow session in `X2GO-<session>`; x2god finds it on the local X display by
//! that name and gives it the title. Rootless sessions have no such window.
//!
//! The X calls block, so [`set_title`] runs them on tokio's blocking pool.

use std::time::{Duration, Instant};

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{AtomEnum, ConnectionExt, PropMode, Window};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

/// How often the window is looked for while it is not there yet.
const POLL: Duration = Duration::from_millis(200);

/// Why no title was set.
#[derive(Debug, thiserror::Error)]
pub enum TitleError {
    /// The local display could not be reached.
    #[error("cannot reach the local display {display}: {reason}")]
    Connect {
        /// The display.
        display: String,
        /// What x11rb said.
        reason: String,
    },
    /// The display answered with an error.
    #[error("the local display failed: {0}")]
    X(String),
    /// No window of that name appeared in time.
    #[error("no window named {0} appeared (rootless sessions have none)")]
    NoWindow(String),
}

fn x(e: impl std::fmt::Display) -> TitleError {
    TitleError::X(e.to_string())
}

/// Gives the window named `X2GO-<session>` on `display` the title `title` (`WM_NAME`,
/// `_NET_WM_NAME` and the icon names), waiting up to `timeout` for it to appear; returns the
/// window. Runs on the blocking pool.
pub async fn set_title(
    display: String,
    session: String,
    title: String,
    timeout: Duration,
) -> Result<Window, TitleError> {
    tokio::task::spawn_blocking(move || set_title_blocking(&display, &session, &title, timeout))
        .await
        .map_err(x)?
}

fn set_title_blocking(
    display: &str,
    session: &str,
    title: &str,
    timeout: Duration,
) -> Result<Window, TitleError> {
    let (conn, screen) = x11rb::connect(Some(display)).map_err(|e| TitleError::Connect {
        display: display.to_owned(),
        reason: e.to_string(),
    })?;
    let root = conn
        .setup()
        .roots
        .get(screen)
        .map(|s| s.root)
        .ok_or_else(|| x("no such screen"))?;
    let name = format!("X2GO-{session}");
    let deadline = Instant::now() + timeout;
    let window = loop {
        if let Some(w) = find(&conn, root, name.as_bytes(), 3)? {
            break w;
        }
        if Instant::now() >= deadline {
            return Err(TitleError::NoWindow(name));
        }
        std::thread::sleep(POLL);
    };
    let utf8 = intern(&conn, b"UTF8_STRING")?;
    let net_name = intern(&conn, b"_NET_WM_NAME")?;
    let net_icon = intern(&conn, b"_NET_WM_ICON_NAME")?;
    for property in [
        AtomEnum::WM_NAME.into(),
        AtomEnum::WM_ICON_NAME.into(),
        net_name,
        net_icon,
    ] {
        conn.change_property8(PropMode::REPLACE, window, property, utf8, title.as_bytes())
            .map_err(x)?;
    }
    // A round trip, so the change has reached the server before this returns.
    conn.get_input_focus().map_err(x)?.reply().map_err(x)?;
    Ok(window)
}

fn intern(conn: &RustConnection, name: &[u8]) -> Result<u32, TitleError> {
    Ok(conn
        .intern_atom(false, name)
        .map_err(x)?
        .reply()
        .map_err(x)?
        .atom)
}

/// The first window below `parent` (down to `depth` levels: window managers reparent)
/// whose `WM_NAME` is `name`.
fn find(
    conn: &RustConnection,
    parent: Window,
    name: &[u8],
    depth: u8,
) -> Result<Option<Window>, TitleError> {
    let Ok(tree) = conn.query_tree(parent).map_err(x)?.reply() else {
        // The window went away while we looked.
        return Ok(None);
    };
    for &w in &tree.children {
        let prop = conn
            .get_property(false, w, AtomEnum::WM_NAME, AtomEnum::ANY, 0, 256)
            .map_err(x)?
            .reply();
        if prop.is_ok_and(|p| p.value == name) {
            return Ok(Some(w));
        }
        if depth > 1
            && let Some(found) = find(conn, w, name, depth - 1)?
        {
            return Ok(Some(found));
        }
    }
    Ok(None)
}
