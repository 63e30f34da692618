//! Profiles: create, list, rename, remove; persistence across restarts; malformed files.

use std::collections::HashMap;

use x2god_client::Options;
use x2god_proto::path::profile_path;
use x2god_tests::{Daemon, Lab};

use crate::{bounded, expect_err};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_list_rename_remove() {
    bounded(async {
        let d = Daemon::start().await;
        let c = d.client().await;
        let m = c.manager();
        let p = c
            .create_profile(
                "Büro 2/x",
                Options::new()
                    .set("hostname", "srv.example")
                    .set("port", 2222u16),
            )
            .await
            .unwrap();
        assert_eq!(p.path().as_str(), profile_path("Büro 2/x").as_str());
        assert_eq!(p.proxy().name().await.unwrap(), "Büro 2/x");
        assert_eq!(p.proxy().port().await.unwrap(), 2222);
        c.create_profile(
            "second",
            Options::new().set("hostname", "h2").set("port", 22i64),
        )
        .await
        .unwrap();
        assert_eq!(m.list_profiles().await.unwrap().len(), 2);
        expect_err(
            c.create_profile("second", Options::new().set("hostname", "h"))
                .await,
            "AlreadyExists",
        );
        expect_err(m.get_profile("nope").await, "NotFound");
        expect_err(m.remove_profile("nope").await, "NotFound");
        let msg = expect_err(
            c.create_profile(
                "bad",
                Options::new().set("hostname", "h").set("colour", true),
            )
            .await,
            "InvalidArgument",
        );
        assert!(msg.contains("colour"), "{msg}");
        let msg = expect_err(
            c.create_profile("bad", Options::new().set("hostname", "h").set("port", "22"))
                .await,
            "InvalidArgument",
        );
        assert!(msg.contains("port"), "{msg}");
        expect_err(
            c.create_profile("bad", Options::new().set("port", 22u16))
                .await,
            "InvalidArgument",
        );
        expect_err(
            c.create_profile("", Options::new().set("hostname", "h"))
                .await,
            "InvalidArgument",
        );

        // The ObjectManager sees both profiles with their interface.
        let om = zbus::fdo::ObjectManagerProxy::builder(c.connection())
            .destination("org.x2go.Control1")
            .path("/org/x2go/Control1")
            .build()
            .await
            .unwrap();
        let objects = om.get_managed_objects().await.unwrap();
        let profiles: Vec<_> = objects
            .iter()
            .filter(|(_, ifaces)| {
                ifaces
                    .keys()
                    .any(|i| i.as_str() == "org.x2go.Control1.Profile")
            })
            .collect();
        assert_eq!(profiles.len(), 2);

        let new_path = p.proxy().set_profile_name("renamed").await.unwrap();
        assert_eq!(new_path.as_str(), profile_path("renamed").as_str());
        assert_eq!(m.get_profile("renamed").await.unwrap(), new_path);
        expect_err(m.get_profile("Büro 2/x").await, "NotFound");
        let renamed = c.profile("renamed").await.unwrap();
        assert_eq!(renamed.proxy().name().await.unwrap(), "renamed");
        assert_eq!(renamed.proxy().hostname().await.unwrap(), "srv.example");
        expect_err(
            renamed.proxy().set_profile_name("second").await,
            "AlreadyExists",
        );

        m.remove_profile("renamed").await.unwrap();
        assert_eq!(
            m.list_profiles().await.unwrap(),
            vec![profile_path("second")]
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_persist_across_restart() {
    bounded(async {
        let mut d = Daemon::start().await;
        {
            let c = d.client().await;
            c.create_profile(
                "office",
                Options::new()
                    .set("hostname", "x2go.example.org")
                    .set("port", 2022u32)
                    .set("username", "alice")
                    .set("key_filename", vec!["/k/one", "/k/two"])
                    .set("allow_agent", true),
            )
            .await
            .unwrap();
            c.create_profile("home", Options::new().set("hostname", "10.1.2.3"))
                .await
                .unwrap();
            let p = c.profile("home").await.unwrap();
            p.proxy()
                .update(HashMap::from([("port", zbus::Variant::from(2200u16))]))
                .await
                .unwrap();
        }
        let status = d.stop();
        assert!(status.success(), "x2god exit status {status}");
        let file = std::fs::read_to_string(d.config_dir().join("profiles.toml")).unwrap();
        assert!(file.contains("x2go.example.org"));
        d.restart().await;
        let c = d.client().await;
        let mut names = Vec::new();
        for p in c.profiles().await.unwrap() {
            names.push(p.proxy().name().await.unwrap());
        }
        names.sort();
        assert_eq!(names, vec!["home", "office"]);
        let office = c.profile("office").await.unwrap();
        assert_eq!(office.proxy().hostname().await.unwrap(), "x2go.example.org");
        assert_eq!(office.proxy().port().await.unwrap(), 2022);
        assert_eq!(office.proxy().username().await.unwrap(), "alice");
        assert_eq!(
            c.profile("home")
                .await
                .unwrap()
                .proxy()
                .port()
                .await
                .unwrap(),
            2200
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_profile_file_is_a_clear_error() {
    bounded(async {
        let mut d = Daemon::start().await;
        d.stop();
        let file = d.config_dir().join("profiles.toml");
        std::fs::create_dir_all(d.config_dir()).unwrap();
        let bad = "[profile.a]\nhostname = \"h\"\nport = \"not a number\"\n";
        std::fs::write(&file, bad).unwrap();
        let (status, log) = d.run_once();
        assert!(!status.success());
        assert!(
            log.contains("profiles.toml") && log.contains("line 3"),
            "{log}"
        );
        // Never reset.
        assert_eq!(std::fs::read_to_string(&file).unwrap(), bad);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_settings_reach_the_server() {
    // Settings from CreateProfile are what Connect uses (checked against the lab).
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        let p = crate::connected(&d, &lab, "settings").await;
        assert_eq!(
            p.proxy().remote_username().await.unwrap(),
            lab.var("SSH_USER")
        );
    })
    .await;
}
