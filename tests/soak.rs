//! Overlapping operations on one server account: several `Start` calls at once, on one
//! profile and on two profiles of the account, and a soak of random starts, suspends, resumes
//! and terminations by x2god and, at the same time, by plain `ssh` running the X2Go scripts.
//! x2gostartagent's display and port allocation is not atomic; x2god must still start every
//! session it is asked for, and end up agreeing with the server.
//!
//! The account is the lab's soak user (`SOAK_USER`, tests/lab/soak.sh), which no other test
//! uses, so the server's listing holds exactly what these tests did. Sessions are rootless and
//! run `sleep`: an agent and an nxproxy each, no window.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use futures_util::future::join_all;
use x2god_client::{Options, Profile};
use x2god_proto::types::SessionState;
use x2god_tests::{Daemon, Lab, hostile_profile, wait_until};

use crate::{bounded, lab_profile};

/// The soak tests share the soak user: one at a time.
static SOAK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A session with an agent and nothing drawn.
fn quiet() -> Options {
    Options::new()
        .set("cmd", "sleep 86400")
        .set("session_type", "application")
        .set("geometry", "640x480")
}

/// A connected key profile for the soak user.
async fn soak_profile(d: &Daemon, lab: &Lab, name: &str) -> Profile {
    let key = Options::new().set("key_filename", lab.var("SSH_KEY"));
    let p = lab_profile(d, lab, name, &lab.var("SOAK_USER"), key).await;
    p.connect(Options::new()).await.unwrap();
    p
}

/// Runs `cmd` as the soak user through OpenSSH: (exit status, stdout, stderr). Never panics on
/// a failing command: the soak's other client may lose a race as x2god may.
fn ssh(lab: &Lab, cmd: &str) -> (i32, String, String) {
    let out = Command::new("ssh")
        .args(["-F", "/dev/null", "-i", &lab.var("SSH_KEY"), "-p"])
        .arg(lab.var("SSH_PORT"))
        .args(["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"])
        .args(["-o", "StrictHostKeyChecking=yes", "-o", "LogLevel=ERROR"])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", lab.var("KNOWN_HOSTS")))
        .args(["-o", "GlobalKnownHostsFile=/dev/null"])
        .arg(format!("{}@127.0.0.1", lab.var("SOAK_USER")))
        .arg(cmd)
        .output()
        .expect("run ssh");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The soak user's sessions on the server: name → status (`R`/`S`).
fn server_sessions(lab: &Lab) -> BTreeMap<String, String> {
    let (rc, out, err) = ssh(lab, "x2golistsessions");
    assert_eq!(rc, 0, "x2golistsessions failed: {err}");
    out.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            Some((f.get(1)?.to_string(), f.get(4)?.to_string()))
        })
        .filter(|(n, _)| !n.is_empty())
        .collect()
}

/// Ends every session of the soak user, so each test starts from none.
fn clean(lab: &Lab) {
    let names: Vec<String> = server_sessions(lab).into_keys().collect();
    if !names.is_empty() {
        let script: Vec<String> = names
            .iter()
            .map(|n| format!("x2goterminate-session {n} >/dev/null 2>&1"))
            .collect();
        ssh(lab, &script.join("; "));
    }
    assert!(server_sessions(lab).is_empty(), "soak user's sessions left");
}

/// Asserts that what x2god says of the account agrees with the server: every profile lists
/// exactly the server's sessions with their status, has a session object for each and no
/// other, in the right state, and x2god runs exactly one nxproxy per session it shows, each
/// one running on the server. Waits (bounded) for the watcher to catch up first.
async fn assert_agree(d: &Daemon, lab: &Lab, profiles: &[&Profile]) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let result = agreement(d, lab, profiles).await;
        match result {
            Ok(()) => return,
            Err(why) if Instant::now() < deadline => {
                eprintln!("not yet agreeing: {why}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(why) => panic!("x2god and the server disagree: {why}"),
        }
    }
}

async fn agreement(d: &Daemon, lab: &Lab, profiles: &[&Profile]) -> Result<(), String> {
    let server = server_sessions(lab);
    let om = zbus::fdo::ObjectManagerProxy::builder(&d.bus.connect().await)
        .destination("org.x2go.Control1")
        .path("/org/x2go/Control1")
        .build()
        .await
        .unwrap();
    let objects = om.get_managed_objects().await.unwrap();
    let mut shown = BTreeSet::new();
    for p in profiles {
        let listed: BTreeMap<String, String> = p
            .list_sessions()
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|s| (s.name, s.status))
            .collect();
        if listed != server {
            return Err(format!("listing {listed:?} != server {server:?}"));
        }
        let prefix = format!("{}/session/", p.path().as_str());
        let paths: BTreeSet<String> = objects
            .iter()
            .filter(|(path, ifaces)| {
                path.as_str().starts_with(&prefix)
                    && ifaces
                        .keys()
                        .any(|i| i.as_str() == "org.x2go.Control1.Session")
            })
            .map(|(path, _)| path.as_str().to_owned())
            .collect();
        if paths.len() != server.len() {
            return Err(format!(
                "{} session objects for {} sessions",
                paths.len(),
                server.len()
            ));
        }
        for (name, status) in &server {
            let details = p
                .session(name)
                .await
                .map_err(|e| e.to_string())?
                .details()
                .await
                .map_err(|e| format!("{name}: {e}"))?;
            let want = if status == "R" {
                SessionState::Running
            } else {
                SessionState::Suspended
            };
            if details.state != want {
                return Err(format!(
                    "{name}: object {:?}, server {status}",
                    details.state
                ));
            }
            if details.local {
                if status != "R" {
                    return Err(format!("{name} shown here but {status} on the server"));
                }
                shown.insert(name.clone());
            }
        }
    }
    let proxies = d.children("nxproxy").len();
    if proxies != shown.len() {
        return Err(format!(
            "{proxies} nxproxy for {} shown sessions {shown:?}",
            shown.len()
        ));
    }
    Ok(())
}

/// Starts `n` sessions at once on `profiles` (round robin); every start must succeed.
async fn start_at_once(profiles: &[&Profile], n: usize) -> Vec<String> {
    let starts = (0..n).map(|i| {
        let p = profiles[i % profiles.len()];
        async move { p.start(quiet()).await.map(|s| s.name().to_owned()) }
    });
    let names: Vec<String> = join_all(starts)
        .await
        .into_iter()
        .map(|r| r.expect("a Start of several at once failed"))
        .collect();
    let distinct: BTreeSet<&String> = names.iter().collect();
    assert_eq!(distinct.len(), n, "{names:?}");
    names
}

/// A start whose agent loses its port after `x2gostartagent` saw it run (the hostile sshd's
/// `x2goagent` has another process take the port first, once): nxproxy reaches that process,
/// not an agent. x2god sees the agent's log say so, ends that session and starts again; the
/// session `Start` returns runs, and it is the only one on the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_whose_agent_lost_its_port_is_run_again() {
    let Some(lab) = Lab::get() else { return };
    if !lab.has_part("HOSTILE_STEAL_USER", "hostile.sh") {
        return;
    }
    assert_eq!(lab.var("HOSTILE_STEAL_USER"), lab.var("SOAK_USER"));
    let _g = SOAK.lock().await;
    bounded(async {
        clean(&lab);
        let trigger = "~/.x2god-steal-agent-port";
        let (rc, _, err) = ssh(&lab, &format!("touch {trigger}"));
        assert_eq!(rc, 0, "{err}");
        let d = Daemon::start_with_display(&lab).await;
        let p = hostile_profile(&d, &lab, "steal", &lab.var("SOAK_USER")).await;
        let s = p.start(quiet()).await.unwrap();
        let (rc, _, _) = ssh(&lab, &format!("test -e {trigger}"));
        assert_eq!(rc, 1, "the hostile x2goagent did not take the trigger");
        let log = d.log_text();
        assert!(
            log.contains("the new agent lost its port"),
            "x2god did not start again for the lost port"
        );
        assert_eq!(s.state().await.unwrap(), SessionState::Running);
        let server = server_sessions(&lab);
        assert_eq!(
            server.keys().collect::<Vec<_>>(),
            [s.name()],
            "the failed attempt's session is left, or the returned one is missing"
        );
        assert_eq!(server[s.name()], "R");
        assert_agree(&d, &lab, &[&p]).await;
        s.terminate().await.unwrap();
        clean(&lab);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_starts_at_once_on_one_profile() {
    let Some(lab) = Lab::get() else { return };
    let _g = SOAK.lock().await;
    bounded(async {
        clean(&lab);
        let d = Daemon::start_with_display(&lab).await;
        let p = soak_profile(&d, &lab, "five").await;
        let names = start_at_once(&[&p], 5).await;
        assert_running_on_server(&lab, &names);
        assert_agree(&d, &lab, &[&p]).await;
        assert_eq!(d.children("nxproxy").len(), 5);
        for n in &names {
            p.terminate(n).await.unwrap();
        }
        assert_agree(&d, &lab, &[&p]).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_starts_at_once_on_two_profiles_of_one_account() {
    let Some(lab) = Lab::get() else { return };
    let _g = SOAK.lock().await;
    bounded(async {
        clean(&lab);
        let d = Daemon::start_with_display(&lab).await;
        let a = soak_profile(&d, &lab, "one").await;
        let b = soak_profile(&d, &lab, "two").await;
        let names = start_at_once(&[&a, &b], 5).await;
        assert_eq!(server_sessions(&lab).len(), 5);
        assert_agree(&d, &lab, &[&a, &b]).await;
        assert_eq!(d.children("nxproxy").len(), 5);
        for n in &names {
            a.terminate(n).await.unwrap();
        }
        assert_agree(&d, &lab, &[&a, &b]).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_starts_at_once_while_another_client_starts_five() {
    let Some(lab) = Lab::get() else { return };
    let _g = SOAK.lock().await;
    bounded(async {
        clean(&lab);
        let d = Daemon::start_with_display(&lab).await;
        let p = soak_profile(&d, &lab, "contended").await;
        // The other client's starts race x2god's for displays and ports; theirs may fail
        // (x2gostartagent's own retries run out), x2god's may not.
        let others: Vec<_> = (0..5)
            .map(|_| {
                let lab = lab.clone();
                tokio::task::spawn_blocking(move || ssh(&lab, SSH_START))
            })
            .collect();
        let names = start_at_once(&[&p], 5).await;
        let mut other_failures = Vec::new();
        for o in others {
            let (rc, _, err) = o.await.unwrap();
            if rc != 0 {
                other_failures.push(err.lines().last().unwrap_or_default().to_owned());
            }
        }
        eprintln!("the other client's failed starts: {other_failures:?}");
        assert_running_on_server(&lab, &names);
        assert_agree(&d, &lab, &[&p]).await;
        let races = d
            .log_text()
            .lines()
            .filter(|l| l.contains("lost a race"))
            .count();
        eprintln!("x2god retried {races} starts that lost a race");
        clean(&lab);
    })
    .await;
}

/// A small seeded generator (xorshift64*): the soak's choices are printed with their seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a>(&mut self, items: &'a [String]) -> Option<&'a String> {
        items.get(self.below(items.len()))
    }
}

/// Steps of the soak in all, and the time it may take (CI runs it on two cores):
/// `X2GOD_SOAK_STEPS` and `X2GOD_SOAK_SECONDS` raise them for a longer run.
fn soak_steps() -> usize {
    env_number("X2GOD_SOAK_STEPS").unwrap_or(300) as usize
}

/// See [`soak_steps`].
fn soak_time() -> Duration {
    Duration::from_secs(env_number("X2GOD_SOAK_SECONDS").unwrap_or(200))
}

fn env_number(var: &str) -> Option<u64> {
    std::env::var(var).ok().map(|v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{var}={v:?} is not a number"))
    })
}
/// Above this many sessions the soak only ends sessions.
const SOAK_MAX_SESSIONS: usize = 6;

/// The `x2gostartagent` line pyhoca-cli sends for a rootless session (no command runs).
const SSH_START: &str =
    "x2gostartagent 640x480 adsl 16m-jpeg-9 unix-kde-depth_24 us pc105/us 1 R sleep sleep nocheck";

/// The sessions as x2god lists them (one D-Bus call; cheaper than an ssh login): running and
/// suspended names, and all.
async fn listed(p: &Profile) -> (Vec<String>, Vec<String>, Vec<String>) {
    let sessions = p.list_sessions().await.unwrap_or_default();
    let with = |st: &str| -> Vec<String> {
        sessions
            .iter()
            .filter(|s| s.status == st)
            .map(|s| s.name.clone())
            .collect()
    };
    let all = sessions.iter().map(|s| s.name.clone()).collect();
    (with("R"), with("S"), all)
}

/// One step of x2god's side: what it did, and the error of a failed `Start` (the other
/// operations may lose a race with the other client on the same session, which x2god reports
/// as an error like any other client would see it).
async fn x2god_step(rng: &mut Rng, profiles: &[&Profile]) -> (String, Option<String>) {
    let p = profiles[rng.below(profiles.len())];
    let (running, suspended, all) = listed(p).await;
    let choice = if all.len() >= SOAK_MAX_SESSIONS {
        3
    } else {
        rng.below(4)
    };
    let (what, failed) = match (choice, &running, &suspended, &all) {
        (0, ..) => match p.start(quiet()).await {
            Ok(s) => (format!("x2god start {}", s.name()), None),
            Err(e) => return ("x2god start".into(), Some(e.to_string())),
        },
        (1, r, ..) if !r.is_empty() => {
            let n = rng.pick(r).cloned().unwrap_or_default();
            let failed = p.suspend(&n).await.err();
            (format!("x2god suspend {n}"), failed)
        }
        (2, _, s, _) if !s.is_empty() => {
            let n = rng.pick(s).cloned().unwrap_or_default();
            let failed = p.resume(&n, Options::new()).await.err();
            (format!("x2god resume {n}"), failed)
        }
        (_, _, _, a) if !a.is_empty() => {
            let n = rng.pick(a).cloned().unwrap_or_default();
            let failed = p.terminate(&n).await.err();
            (format!("x2god terminate {n}"), failed)
        }
        _ => match p.start(quiet()).await {
            Ok(s) => (format!("x2god start {}", s.name()), None),
            Err(e) => return ("x2god start".into(), Some(e.to_string())),
        },
    };
    match failed {
        Some(e) => (format!("{what} -> {}", e.kind()), None),
        None => (what, None),
    }
}

/// One step of the other client, plain ssh running the scripts as pyhoca-cli would; it picks
/// from x2god's listing (`names`: running, all), which may be a moment old, as another
/// client's view would be.
fn ssh_step(rng: &mut Rng, lab: &Lab, running: &[String], all: &[String]) -> String {
    let choice = if all.len() >= SOAK_MAX_SESSIONS {
        2
    } else {
        rng.below(3)
    };
    let (what, cmd) = match choice {
        1 if !running.is_empty() => {
            let n = rng.pick(running).cloned().unwrap_or_default();
            (
                format!("ssh suspend {n}"),
                format!("x2gosuspend-session {n}"),
            )
        }
        2 if !all.is_empty() => {
            let n = rng.pick(all).cloned().unwrap_or_default();
            (
                format!("ssh terminate {n}"),
                format!("x2goterminate-session {n}"),
            )
        }
        _ => ("ssh start".to_owned(), SSH_START.to_owned()),
    };
    let (rc, _, err) = ssh(lab, &cmd);
    let last = err.lines().last().unwrap_or_default().to_owned();
    format!("{what} -> {rc} {last}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_of_overlapping_operations_by_x2god_and_ssh() {
    let Some(lab) = Lab::get() else { return };
    let _g = SOAK.lock().await;
    let seed = std::env::var("X2GOD_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("soak seed {seed} (X2GOD_SOAK_SEED={seed} repeats the choices; the timing differs)");
    let started = Instant::now();
    let (soak_steps, soak_time) = (soak_steps(), soak_time());
    tokio::time::timeout(soak_time + Duration::from_secs(90), async {
        clean(&lab);
        let d = Daemon::start_with_display(&lab).await;
        let a = soak_profile(&d, &lab, "soak-a").await;
        let b = soak_profile(&d, &lab, "soak-b").await;
        let profiles = [&a, &b];
        let steps = std::sync::atomic::AtomicUsize::new(0);
        let take_step = || {
            steps.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < soak_steps
                && started.elapsed() < soak_time
        };
        // Three x2god workers and one ssh worker, each with its own generator from the seed.
        let x2god_worker = |k: u64| {
            let (profiles, take_step) = (&profiles, &take_step);
            async move {
                let mut rng = Rng(seed.wrapping_mul(k + 1) | 1);
                let mut log = Vec::new();
                while take_step() {
                    let t = Instant::now();
                    let (what, err) = x2god_step(&mut rng, profiles).await;
                    let what = format!("{what} ({} ms)", t.elapsed().as_millis());
                    if let Some(e) = err {
                        panic!("soak seed {seed}: {what} failed: {e}\nworker {k} so far: {log:#?}");
                    }
                    log.push(what);
                }
                log
            }
        };
        let ssh_worker = {
            let (lab, a, take) = (lab.clone(), &a, &take_step);
            async move {
                let mut rng = Rng(seed.wrapping_mul(7) | 1);
                let mut log = Vec::new();
                while take() {
                    let (running, _, all) = listed(a).await;
                    let lab = lab.clone();
                    let t = Instant::now();
                    let (what, back) = tokio::task::spawn_blocking(move || {
                        (ssh_step(&mut rng, &lab, &running, &all), rng)
                    })
                    .await
                    .unwrap();
                    rng = back;
                    log.push(format!("{what} ({} ms)", t.elapsed().as_millis()));
                }
                log
            }
        };
        let (l1, l2, l4, l3) = tokio::join!(
            x2god_worker(1),
            x2god_worker(2),
            x2god_worker(3),
            ssh_worker
        );
        let l2: Vec<String> = l2.into_iter().chain(l4).collect();
        if std::env::var_os("X2GOD_SOAK_LOG").is_some() {
            eprintln!("{l1:#?}\n{l2:#?}\n{l3:#?}");
        }
        let starts = l1.iter().chain(&l2).filter(|w| w.starts_with("x2god start ")).count();
        let refused = l1.iter().chain(&l2).filter(|w| w.contains(" -> ")).count();
        let ssh_starts = l3.iter().filter(|w| w.starts_with("ssh start")).count();
        eprintln!(
            "soak seed {seed}: {} steps ({} x2god, {} ssh; {starts} x2god starts, {ssh_starts} ssh starts; {refused} x2god calls on a session the other client had just changed failed) in {:?}",
            l1.len() + l2.len() + l3.len(),
            l1.len() + l2.len(),
            l3.len(),
            started.elapsed()
        );
        assert!(starts > 0, "the soak started nothing through x2god");
        assert_agree(&d, &lab, &profiles).await;
        let races = d
            .log_text()
            .lines()
            .filter(|l| l.contains("lost a race"))
            .count();
        eprintln!("soak seed {seed}: x2god retried {races} starts that lost a race");
        clean(&lab);
        assert_agree(&d, &lab, &profiles).await;
        wait_until("every nxproxy reaped", Duration::from_secs(10), || {
            d.children("nxproxy").is_empty()
        })
        .await;
    })
    .await
    .unwrap_or_else(|_| panic!("soak seed {seed}: timed out"));
}

/// Every one of `names` is running on the server.
fn assert_running_on_server(lab: &Lab, names: &[String]) {
    let server = server_sessions(lab);
    for n in names {
        assert_eq!(
            server.get(n).map(String::as_str),
            Some("R"),
            "{n}: {server:?}"
        );
    }
}
