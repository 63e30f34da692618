//! Published applications: the menu tree, languages, icons, and launching an entry in a
//! published-applications session.

use std::collections::HashMap;
use std::time::Duration;

use x2god_client::Options;
use x2god_tests::{Daemon, Lab, wait_until};
use zbus::OwnedVariant;

use crate::{bounded, connected, expect_err};

type Dict = HashMap<String, OwnedVariant>;

fn menu(reply: &Dict) -> HashMap<String, Vec<Dict>> {
    let v = reply.get("menu").expect("menu").try_clone().unwrap();
    HashMap::try_from(v).unwrap()
}

fn text(d: &Dict, k: &str) -> String {
    String::try_from(d.get(k).unwrap().try_clone().unwrap()).unwrap()
}

fn lab_items(menu: &HashMap<String, Vec<Dict>>) -> Vec<(String, Dict)> {
    menu.iter()
        .flat_map(|(cat, items)| items.iter().map(move |i| (cat.clone(), i.clone())))
        .filter(|(_, i)| {
            text(i, "exec").contains("x2god-lab") || text(i, "name").starts_with("x2god-lab")
        })
        .collect()
}

fn desktop_value(lab: &Lab, app: &str, key: &str) -> String {
    let file = std::path::Path::new(&lab.var("APPS_DIR")).join(format!("{app}.desktop"));
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_owned))
        .unwrap()
}

async fn apps(p: &x2god_client::Profile, o: Options) -> Dict {
    p.proxy()
        .published_applications(o.as_call_arg())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn menu_tree_languages_and_icons() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        let p = connected(&d, &lab, "apps").await;

        // Grouped by XDG main category.
        let grouped = menu(
            &apps(
                &p,
                Options::new()
                    .set("max_no_submenus", 0i32)
                    .set("lang", "en_US.UTF-8"),
            )
            .await,
        );
        let items = lab_items(&grouped);
        let find = |name: &str| items.iter().find(|(_, i)| text(i, "name") == name).cloned();
        let (cat, calc) = find("x2god-lab-calc").expect("calc listed");
        assert_eq!(cat, "Utilities");
        assert_eq!(find("x2god-lab-browser").expect("browser").0, "Internet");
        assert!(find("x2god-lab-notes").is_some() && find("x2god-lab-term").is_some());
        assert!(
            find("x2god-lab-hidden").is_none(),
            "NoDisplay entries are not published"
        );
        assert_eq!(text(&calc, "comment"), "x2god lab calculator");
        assert_eq!(
            text(&calc, "exec"),
            desktop_value(&lab, "x2god-lab-calc", "Exec")
        );
        // The icon is the server's PNG, byte for byte.
        let icon: Vec<u8> = Vec::try_from(calc.get("icon").unwrap().try_clone().unwrap()).unwrap();
        let on_disk = std::fs::read(desktop_value(&lab, "x2god-lab-calc", "Icon")).unwrap();
        assert_eq!(icon, on_disk);
        assert_eq!(&icon[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(text(&calc, "icon_format"), "png");
        // An Exec with '=' is kept whole (python-x2go cuts it at the second '=').
        let (_, notes) = find("x2god-lab-notes").unwrap();
        assert!(
            text(&notes, "exec").contains("X2GOD_LAB_APP=notes"),
            "{}",
            text(&notes, "exec")
        );

        // German names and comments, with fallback for the entries that have none.
        let de = menu(
            &apps(
                &p,
                Options::new()
                    .set("max_no_submenus", 0i32)
                    .set("lang", "de_DE.UTF-8"),
            )
            .await,
        );
        let de_items = lab_items(&de);
        let rechner = de_items
            .iter()
            .find(|(_, i)| text(i, "name") == "x2god-lab-Rechner")
            .expect("German name");
        assert_eq!(text(&rechner.1, "comment"), "Rechner für das x2god-Labor");
        assert!(
            de_items
                .iter()
                .any(|(_, i)| text(i, "name") == "x2god-lab-browser")
        );

        // Flat when there are no more entries than max_no_submenus.
        let flat = menu(&apps(&p, Options::new().set("max_no_submenus", 1000i32)).await);
        assert_eq!(flat.keys().collect::<Vec<_>>(), vec!["TOP"]);
        assert_eq!(lab_items(&flat).len(), items.len());

        // Cached until refresh; raw and very_raw forms.
        let runs = |d: &Daemon| d.log_text().matches("command=\"x2gogetapps\"").count();
        assert_eq!(runs(&d), 1);
        let very_raw = apps(&p, Options::new().set("very_raw", true)).await;
        assert!(text(&very_raw, "text").contains("<desktop>"));
        assert_eq!(runs(&d), 1);
        let raw = apps(&p, Options::new().set("raw", true).set("refresh", true)).await;
        assert_eq!(runs(&d), 2);
        let entries: Vec<Dict> =
            Vec::try_from(raw.get("entries").unwrap().try_clone().unwrap()).unwrap();
        assert!(entries.len() >= items.len());
        expect_err(
            p.proxy()
                .published_applications(Options::new().set("colour", true).as_call_arg())
                .await,
            "InvalidArgument",
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_session_launches_menu_entries() {
    let Some(lab) = Lab::get() else { return };
    let _g = crate::GRAPHICAL.lock().await;
    bounded(async {
        let d = Daemon::start_with_display(&lab).await;
        let p = connected(&d, &lab, "pub").await;
        let px = p.proxy();
        let (name, _) = px
            .start(
                Options::new()
                    .set("session_type", "published")
                    .as_call_arg(),
            )
            .await
            .unwrap();
        assert!(name.contains("_stRPUBLISHED_"), "{name}");
        // Listed as a published session (the server may print its row half-complete for a
        // moment, which the parser skips: look again briefly before failing).
        let mut found = None;
        for _ in 0..50 {
            let sessions = p.list_sessions().await.unwrap();
            found = sessions.into_iter().find(|s| s.name == name);
            if found.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let raw = px.list_sessions_raw().await.unwrap();
        let s = found.unwrap_or_else(|| panic!("{name} not listed; server says:\n{raw}"));
        assert_eq!(s.session_type, "published");
        assert!(lab.visible_windows("XTerm").is_empty());
        expect_err(
            px.exec_published_application(&name, "no-such-app").await,
            "NotFound",
        );
        px.exec_published_application(&name, "x2god-lab-calc")
            .await
            .unwrap();
        wait_until(
            "the published xterm's window",
            Duration::from_secs(30),
            || !lab.visible_windows("XTerm").is_empty(),
        )
        .await;
        px.terminate(&name, HashMap::new()).await.unwrap();
        wait_until("the window to go", Duration::from_secs(20), || {
            lab.visible_windows("XTerm").is_empty()
        })
        .await;
    })
    .await;
}
