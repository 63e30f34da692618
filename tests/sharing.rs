//! Desktop sharing: one's own desktop, another user's (granted and denied through the real
//! x2godesktopsharing applet, answering headless), and desktops that do not exist.

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use x2god_client::Options;
use x2god_tests::{Daemon, Lab, wait_until};
use zbus::OwnedVariant;

use crate::{GRAPHICAL, bounded, connected, expect_err};

/// `tests/lab/<script> args…`, returning its stdout.
fn lab_script(script: &str, args: &[&str]) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("lab")
        .join(script);
    let out = Command::new(path).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A primed desktop session of `user`: listable and shadowable, no client attached.
fn desktop(user: &str) -> (String, String) {
    let out = lab_script("start-desktop.sh", &["-u", user, "--prime"]);
    let (name, display) = out.split_once(' ').unwrap();
    (name.to_owned(), display.to_owned())
}

fn desktop_ids(list: &[HashMap<String, OwnedVariant>]) -> Vec<String> {
    list.iter()
        .map(|d| String::try_from(d.get("desktop").unwrap().try_clone().unwrap()).unwrap())
        .collect()
}

fn shadow_windows(lab: &Lab) -> Vec<String> {
    lab.visible_windows("X2GoAgent")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_own_and_other_desktops() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let me = lab.var("SSH_USER");
        let other = lab.var("SSH_USER2");
        let (mine, my_display) = desktop(&me);
        let d = Daemon::start_with_display(&lab).await;
        let p = connected(&d, &lab, "share").await;
        let px = p.proxy();

        // One's own desktop: the server shadows it without further help.
        let listed = desktop_ids(&px.list_desktops(HashMap::new()).await.unwrap());
        let my_id = format!("{me}@:{my_display}");
        assert!(listed.contains(&my_id), "{my_id} not in {listed:?}");
        assert!(shadow_windows(&lab).is_empty());
        let (shadow, path) = px
            .share_desktop(
                Options::new()
                    .set("desktop", my_id.as_str())
                    .set("share_mode", 0u32)
                    .as_call_arg(),
            )
            .await
            .unwrap();
        assert!(shadow.contains("XSHAD"), "{shadow}");
        assert!(path.as_str().contains("/session/"));
        wait_until("the shadow window", Duration::from_secs(30), || {
            !shadow_windows(&lab).is_empty()
        })
        .await;
        let types: Vec<String> = p
            .list_sessions()
            .await
            .unwrap()
            .into_iter()
            .filter(|s| s.name == shadow)
            .map(|s| s.session_type)
            .collect();
        assert_eq!(types, vec!["shadow".to_owned()]);
        px.terminate(&shadow, HashMap::new()).await.unwrap();
        wait_until("the shadow window to go", Duration::from_secs(20), || {
            shadow_windows(&lab).is_empty()
        })
        .await;

        // A desktop that does not exist is refused before anything starts.
        let msg = expect_err(
            px.share_desktop(
                Options::new()
                    .set("user", me.as_str())
                    .set("display", 99u32)
                    .as_call_arg(),
            )
            .await,
            "NotFound",
        );
        assert!(msg.contains("@:99"), "{msg}");

        // Another user's desktop, through x2godesktopsharing running in their session.
        let (theirs, their_display) = desktop(&other);
        let their_id = format!("{other}@:{their_display}");
        lab_script(
            "desktop-sharing.sh",
            &["-u", &other, "-d", &their_display, "--grant"],
        );
        let listed = desktop_ids(&px.list_desktops(HashMap::new()).await.unwrap());
        assert!(listed.contains(&their_id), "{their_id} not in {listed:?}");
        let (granted, _) = px
            .share_desktop(
                Options::new()
                    .set("desktop", their_id.as_str())
                    .set("share_mode", 1u32)
                    .as_call_arg(),
            )
            .await
            .unwrap();
        assert!(granted.contains(&format!("XSHAD{other}XSHAD")), "{granted}");
        wait_until(
            "the shared desktop's window",
            Duration::from_secs(30),
            || !shadow_windows(&lab).is_empty(),
        )
        .await;
        px.dissociate(&granted).await.unwrap();
        wait_until("the window to go", Duration::from_secs(20), || {
            shadow_windows(&lab).is_empty()
        })
        .await;
        // The owner ends what runs under their name.
        lab.ssh(&other, &format!("x2goterminate-session {granted}"));
        lab_script(
            "desktop-sharing.sh",
            &["-u", &other, "-d", &their_display, "--stop"],
        );

        lab_script(
            "desktop-sharing.sh",
            &["-u", &other, "-d", &their_display, "--deny"],
        );
        let msg = expect_err(
            px.share_desktop(
                Options::new()
                    .set("desktop", their_id.as_str())
                    .as_call_arg(),
            )
            .await,
            "DesktopSharingDenied",
        );
        assert!(
            msg.contains("ACCESS DENIED") || msg.contains("did not allow"),
            "{msg}"
        );
        assert!(d.children("nxproxy").is_empty());
        lab_script(
            "desktop-sharing.sh",
            &["-u", &other, "-d", &their_display, "--stop"],
        );

        lab.ssh(&other, &format!("x2goterminate-session {theirs}"));
        px.terminate(&mine, HashMap::new()).await.unwrap();
    })
    .await;
}
