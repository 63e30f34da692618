//! Who may use the daemon: on a bus other local users can reach, every method, property read
//! and property write from a connection of another uid is refused with `AccessDenied` before
//! anything runs.

use std::process::Command;

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
