//! One daemon under load: a hundred connected profiles and a thousand concurrent calls, with
//! the daemon's connect time, latency, CPU, memory and file descriptors measured, and nothing
//! left behind after the disconnects.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use x2god_client::{ConnectionState, Options, Profile};
use x2god_tests::{Daemon, Lab, wait_until};

use crate::bounded;

const PROFILES: usize = 100;
const CALLS: usize = 1000;

/// What `/proc` says about a process.
#[derive(Debug, Clone, Copy)]
struct Usage {
    /// Resident set size in KiB (`VmRSS`).
    rss_kib: u64,
    /// User + system CPU time in clock ticks, all threads.
    cpu_ticks: u64,
    /// Open file descriptors.
    fds: usize,
}

fn usage(pid: u32) -> Usage {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc/<pid>/status");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // pid (comm) state ppid … utime stime: fields 14 and 15, i.e. 12th and 13th after ')'.
    let (_, tail) = stat.rsplit_once(')').unwrap();
    let f: Vec<u64> = tail
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let cpu_ticks = f[10] + f[11];
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    Usage {
        rss_kib,
        cpu_ticks,
        fds,
    }
}

fn clock_ticks_per_second() -> u64 {
    let out = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .expect("getconf");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("CLK_TCK")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The kinds of call in the mix.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Call {
    IsAlive,
    Features,
    List,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_profiles_and_a_thousand_calls() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let tck = clock_ticks_per_second() as f64;
        let d = Daemon::start().await;
        lab.trust_in_home(d.home.path());
        let pid = d.pid();
        let users = [lab.var("SSH_USER"), lab.var("SSH_USER2")];
        let key = lab.var("SSH_KEY");

        // dbus-daemon allows a connection 128 calls awaiting replies by default (the session
        // bus config raises that to 50000, the test bus does not): ten connections, ten
        // profiles and at most a hundred calls in flight each.
        let mut clients = Vec::new();
        for _ in 0..10 {
            clients.push(d.client().await);
        }
        let mut profiles: Vec<Profile> = Vec::new();
        for i in 0..PROFILES {
            let settings = lab
                .profile_settings(&users[i % 2])
                .set("key_filename", key.clone());
            let p = clients[i % clients.len()]
                .create_profile(&format!("load-{i:03}"), settings)
                .await
                .unwrap();
            profiles.push(p);
        }
        assert_eq!(
            clients[0].manager().list_profiles().await.unwrap().len(),
            PROFILES
        );
        let before = usage(pid);

        // All hundred at once.
        let t0 = Instant::now();
        let connects = profiles.iter().enumerate().map(|(i, p)| {
            let p = p.clone();
            tokio::spawn(async move { (i, p.connect(Options::new()).await) })
        });
        let results = join_all(connects).await;
        let connect_time = t0.elapsed();
        let failures: Vec<String> = results
            .into_iter()
            .map(Result::unwrap)
            .filter_map(|(i, r)| r.err().map(|e| format!("load-{i:03}: {} {e}", e.kind())))
            .collect();
        eprintln!(
            "load: {PROFILES} concurrent connects took {:.2} s, {} failed",
            connect_time.as_secs_f64(),
            failures.len()
        );
        assert!(
            failures.is_empty(),
            "{} of {PROFILES} concurrent connects failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
        for (i, p) in profiles.iter().enumerate() {
            assert_eq!(
                p.state().await.unwrap(),
                ConnectionState::Connected,
                "load-{i:03}"
            );
            assert!(p.proxy().is_connected().await.unwrap(), "load-{i:03}");
        }
        let conns = d.tcp_connections_to(lab.port());
        assert_eq!(
            conns.len(),
            PROFILES,
            "one TCP connection per profile, found {}",
            conns.len()
        );
        let connected = usage(pid);

        // A thousand calls at once: one listing per profile, the rest alternating between a
        // real round trip and the cached feature list.
        let mut plan: Vec<(usize, Call)> = (0..PROFILES).map(|i| (i, Call::List)).collect();
        for k in 0..CALLS - PROFILES {
            let kind = if k % 2 == 0 {
                Call::IsAlive
            } else {
                Call::Features
            };
            plan.push(((k * 7) % PROFILES, kind));
        }
        let t1 = Instant::now();
        let calls = plan.into_iter().map(|(i, kind)| {
            let p = profiles[i].clone();
            tokio::spawn(async move {
                let start = Instant::now();
                let outcome = match kind {
                    Call::IsAlive => match p.proxy().is_alive().await {
                        Ok(true) => Ok(()),
                        Ok(false) => Err("IsAlive returned false".to_owned()),
                        Err(e) => Err(format!("{e:?}")),
                    },
                    Call::Features => match p.proxy().server_features(false).await {
                        Ok(f) if !f.is_empty() => Ok(()),
                        Ok(_) => Err("ServerFeatures returned nothing".to_owned()),
                        Err(e) => Err(format!("{e:?}")),
                    },
                    Call::List => p.list_sessions().await.map(|_| ()).map_err(|e| format!("{e:?}")),
                };
                (i, kind, start.elapsed(), outcome)
            })
        });
        let results = join_all(calls).await;
        let calls_time = t1.elapsed();
        let mut latencies = Vec::new();
        let mut by_kind: [Vec<Duration>; 3] = Default::default();
        let mut errors = Vec::new();
        let mut count = [0usize; 3];
        for r in results {
            let (i, kind, took, outcome) = r.unwrap();
            count[kind as usize] += 1;
            latencies.push(took);
            by_kind[kind as usize].push(took);
            if let Err(e) = outcome {
                errors.push(format!("load-{i:03} {kind:?}: {e}"));
            }
        }
        assert!(
            errors.is_empty(),
            "{} of {CALLS} calls failed:\n{}",
            errors.len(),
            errors.join("\n")
        );
        assert_eq!(count.iter().sum::<usize>(), CALLS);
        latencies.sort();
        let after = usage(pid);
        assert_eq!(
            d.tcp_connections_to(lab.port()).len(),
            PROFILES,
            "the calls shared the hundred connections"
        );

        // Profiles of one account share listings: two accounts, two hundred listings asked
        // for (a hundred watchers starting, a hundred calls), far fewer run.
        let listings = d
            .log_text()
            .lines()
            .filter(|l| l.contains("running server command") && l.contains("x2golistsessions"))
            .count();
        eprintln!("load: {listings} x2golistsessions runs for 2 × {PROFILES} listings asked for");
        assert!(listings <= 60, "{listings} listings run");

        // Everything down.
        let t2 = Instant::now();
        join_all(profiles.iter().map(|p| {
            let p = p.clone();
            tokio::spawn(async move { p.disconnect().await })
        }))
        .await
        .into_iter()
        .for_each(|r| r.unwrap().unwrap());
        wait_until(
            "the daemon's connections to the lab to close",
            Duration::from_secs(10),
            || d.tcp_connections_to(lab.port()).is_empty(),
        )
        .await;
        let disconnect_time = t2.elapsed();
        for (i, p) in profiles.iter().enumerate() {
            assert_eq!(
                p.state().await.unwrap(),
                ConnectionState::Disconnected,
                "load-{i:03}"
            );
        }
        // Let tasks that end with their connection finish, then sample twice: what is left
        // must be stable, not still climbing.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let down = usage(pid);
        tokio::time::sleep(Duration::from_secs(2)).await;
        let settled = usage(pid);

        eprintln!(
            "load: connect {PROFILES} profiles concurrently: {:.2} s ({:.1} ms per profile)",
            connect_time.as_secs_f64(),
            connect_time.as_secs_f64() * 1000.0 / PROFILES as f64
        );
        eprintln!(
            "load: {CALLS} concurrent calls ({} IsAlive, {} ServerFeatures, {} ListSessions) in {:.2} s: {:.0} calls/s, latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            count[Call::IsAlive as usize],
            count[Call::Features as usize],
            count[Call::List as usize],
            calls_time.as_secs_f64(),
            CALLS as f64 / calls_time.as_secs_f64(),
            percentile(&latencies, 0.50).as_secs_f64() * 1000.0,
            percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
            latencies.last().unwrap().as_secs_f64() * 1000.0,
        );
        for (kind, mut l) in [Call::IsAlive, Call::Features, Call::List]
            .into_iter()
            .zip(by_kind)
        {
            l.sort();
            eprintln!(
                "load:   {kind:?}: p50 {:.1} ms, p99 {:.1} ms",
                percentile(&l, 0.50).as_secs_f64() * 1000.0,
                percentile(&l, 0.99).as_secs_f64() * 1000.0
            );
        }
        eprintln!(
            "load: RSS before connecting {:.1} MiB, connected {:.1} MiB, after the calls {:.1} MiB, after disconnecting {:.1} MiB, 2 s later {:.1} MiB",
            mib(before.rss_kib),
            mib(connected.rss_kib),
            mib(after.rss_kib),
            mib(down.rss_kib),
            mib(settled.rss_kib)
        );
        eprintln!(
            "load: daemon CPU: connects {:.2} s, calls {:.2} s, total {:.2} s",
            (connected.cpu_ticks - before.cpu_ticks) as f64 / tck,
            (after.cpu_ticks - connected.cpu_ticks) as f64 / tck,
            (settled.cpu_ticks - before.cpu_ticks) as f64 / tck
        );
        eprintln!(
            "load: fds before connecting {}, connected {}, after the calls {}, after disconnecting {}, 2 s later {}; disconnect took {:.2} s",
            before.fds,
            connected.fds,
            after.fds,
            down.fds,
            settled.fds,
            disconnect_time.as_secs_f64()
        );

        // Every connection's descriptors are gone again.
        assert!(
            settled.fds <= before.fds,
            "file descriptors leaked: {} before connecting, {} after disconnecting",
            before.fds,
            settled.fds
        );
        assert!(
            settled.fds <= down.fds,
            "file descriptors still growing after the disconnects: {} then {}",
            down.fds,
            settled.fds
        );
        // Idle after the disconnects: no CPU spent to speak of, and memory not climbing.
        let idle_cpu = (settled.cpu_ticks - down.cpu_ticks) as f64 / tck;
        assert!(
            idle_cpu < 0.2,
            "the daemon used {idle_cpu:.2} s of CPU in 2 idle seconds after the disconnects"
        );
        assert!(
            settled.rss_kib <= down.rss_kib + 1024,
            "RSS still growing after the disconnects: {} KiB then {} KiB",
            down.rss_kib,
            settled.rss_kib
        );
        assert!(
            settled.rss_kib <= after.rss_kib + 1024,
            "RSS grew after the disconnects: {} KiB under load, {} KiB after",
            after.rss_kib,
            settled.rss_kib
        );
    })
    .await;
}
