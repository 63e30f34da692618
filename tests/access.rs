//! Who may use the daemon: on a bus other local users can reach, every method, property read
//! and property write from a connection of another uid is refused with `AccessDenied` before
//! anything runs.

use std::process::Command;
use std::time::{Duration, Instant};

use x2god_tests::{Daemon, Lab};

use crate::{bounded, connected};

/// Runs `gdbus call` on `bus` as the lab's second user (another local uid) and returns its
/// stdout and stderr together.
fn gdbus_as_other_user(lab: &Lab, bus: &str, path: &str, method: &str, args: &[&str]) -> String {
    let out = Command::new("setpriv")
        .arg(format!("--reuid={}", lab.var("SSH_USER2")))
        .arg(format!("--regid={}", lab.var("SSH_USER2")))
        .args(["--clear-groups", "--", "gdbus", "call", "--address", bus])
        .args([
            "--dest",
            x2god_proto::names::BUS_NAME,
            "--object-path",
            path,
        ])
        .args(["--method", method])
        .args(args)
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .output()
        .expect("run setpriv gdbus (apt-get install util-linux libglib2.0-bin)");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_uid_gets_access_denied_on_every_kind_of_call() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start_on_shared_bus().await;
        let p = connected(&d, &lab, "mine").await;
        let profile = p.path().to_string();
        let bus = d.bus.address.clone();
        let log_before = d.log_text().len();
        let denied = "org.x2go.Control1.Error.AccessDenied";
        let calls: [(&str, &str, Vec<&str>); 6] = [
            (
                "/org/x2go/Control1",
                "org.x2go.Control1.Manager.CreateProfile",
                vec!["evil", "{'hostname': <'127.0.0.1'>}"],
            ),
            (
                "/org/x2go/Control1",
                "org.x2go.Control1.Manager.ListProfiles",
                vec![],
            ),
            (
                &profile,
                "org.x2go.Control1.Profile.Start",
                vec!["@a{sv} {}"],
            ),
            (
                &profile,
                "org.freedesktop.DBus.Properties.Get",
                vec!["org.x2go.Control1.Profile", "Hostname"],
            ),
            (
                &profile,
                "org.freedesktop.DBus.Properties.GetAll",
                vec!["org.x2go.Control1.Profile"],
            ),
            (
                "/org/x2go/Control1",
                "org.freedesktop.DBus.ObjectManager.GetManagedObjects",
                vec![],
            ),
        ];
        for (path, method, args) in &calls {
            let out = gdbus_as_other_user(&lab, &bus, path, method, args);
            assert!(out.contains(denied), "{method} as another uid: {out}");
        }
        // A property write: the profile has no writable property, so zbus's own refusal would
        // come after ours; ours must come first.
        let out = gdbus_as_other_user(
            &lab,
            &bus,
            &profile,
            "org.freedesktop.DBus.Properties.Set",
            &["org.x2go.Control1.Profile", "Hostname", "<'evil.example'>"],
        );
        assert!(out.contains(denied), "Properties.Set as another uid: {out}");

        // Nothing was created or started, and the owner is still served.
        let c = d.client().await;
        let mut names = Vec::new();
        for p in c.profiles().await.unwrap() {
            names.push(p.name().await.unwrap());
        }
        assert_eq!(names, ["mine"]);
        assert_eq!(p.hostname().await.unwrap(), "127.0.0.1");
        assert!(p.list_sessions().await.is_ok());
        let log = d.log_text();
        let log = &log[log_before..];
        assert!(!log.contains("x2gostartagent"), "a Start ran:\n{log}");
        assert!(
            log.contains("refused a call from another user"),
            "the refusal is not logged:\n{log}"
        );
    })
    .await;
}

/// Connects to 127.0.0.1:`port` as the lab's second user without sending anything and reads
/// until end of file or 5 s: returns how many bytes came and whether the connection was
/// closed (rather than the wait running out).
fn connect_as_other_user(lab: &Lab, port: u16) -> (usize, bool) {
    let out = Command::new("setpriv")
        .arg(format!("--reuid={}", lab.var("SSH_USER2")))
        .arg(format!("--regid={}", lab.var("SSH_USER2")))
        .args(["--clear-groups", "--", "timeout", "5", "bash", "-c"])
        .arg(format!(
            "exec 3<>/dev/tcp/127.0.0.1/{port} || exit 9; cat <&3 | wc -c"
        ))
        .output()
        .expect("run setpriv bash");
    let bytes = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    (bytes, out.status.code() == Some(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_uid_gets_nothing_from_a_sessions_forward() {
    let Some(lab) = Lab::get() else { return };
    let _g = crate::GRAPHICAL.lock().await;
    bounded(async {
        let d = Daemon::start_with_display(&lab).await;
        let p = connected(&d, &lab, "forward").await;
        let s = p
            .start(
                x2god_client::Options::new()
                    .set("cmd", "xterm")
                    .set("session_type", "application")
                    .set("snd_system", "none"),
            )
            .await
            .unwrap();
        let name = s.name().to_owned();
        x2god_tests::wait_until("the window", Duration::from_secs(30), || {
            !lab.visible_windows("XTerm").is_empty()
        })
        .await;
        // The session's forward: the daemon's listening port its nxproxy options name.
        let options = std::fs::read_to_string(
            d.home
                .path()
                .join(".x2go")
                .join(format!("S-{name}"))
                .join("options"),
        )
        .unwrap();
        let port = d
            .listening_ports()
            .into_iter()
            .find(|p| options.contains(&format!("={p}")) || options.contains(&format!(":{p}")))
            .unwrap_or_else(|| panic!("no forward port in {options}"));
        let log_before = d.log_text().len();
        let started = Instant::now();
        let (bytes, closed) = connect_as_other_user(&lab, port);
        assert_eq!(bytes, 0, "another uid read from the session's forward");
        assert!(closed, "the forward kept another uid's connection open");
        assert!(started.elapsed() < Duration::from_secs(4));
        let log = d.log_text();
        // No channel was opened to the server for it (the agent, already serving the
        // session's nxproxy, would close one itself: the bytes alone cannot tell).
        assert!(
            !log[log_before..].contains("forwarding a connection"),
            "another uid's connection was forwarded to the server"
        );
        assert!(
            log[log_before..].contains("refused a forwarded connection from another user"),
            "{}",
            &log[log_before..]
        );
        // The session keeps working: its window, its nxproxy and its state.
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!lab.visible_windows("XTerm").is_empty());
        assert!(!d.children("nxproxy").is_empty(), "nxproxy is gone");
        assert_eq!(
            s.state().await.unwrap(),
            x2god_client::SessionState::Running
        );
        s.terminate().await.unwrap();
    })
    .await;
}
