//! Timing client for `benches/run.sh`. Every subcommand talks to an x2god on the D-Bus address
//! given first and prints plain numbers (seconds) that `benches/bench.py` parses.
//!
//! ```text
//! x2god-bench list    ADDR PATH N          # N ListSessions on one connection (after 1 warm-up)
//! x2god-bench once    ADDR PATH            # one ListSessions, for whole-process timing
//! x2god-bench cold    ADDR NAME PORT USER KEY   # wait for the name, CreateProfile, Connect, ListSessions
//! x2god-bench signal  ADDR                 # print READY, then one line per SessionStateChanged
//! x2god-bench connect ADDR PREFIX FROM TO PORT USER KEY  # create + connect profiles FROM..TO at once
//! x2god-bench calls   ADDR PREFIX N CALLS  # CALLS concurrent IsAlive over profiles 0..N
//! ```
//!
//! The profiles' host is 127.0.0.1, or `$X2GOD_BENCH_HOST` (the `rtt` part's far namespace).

use std::io::Write;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::future::join_all;
use x2god_client::{Client, Options};

type R<T> = Result<T, Box<dyn std::error::Error>>;

async fn bus(addr: &str) -> R<zbus::Connection> {
    Ok(zbus::connection::Builder::address(addr)
        .method_timeout(Duration::from_secs(600))
        .build()
        .await?)
}

fn settings(port: &str, user: &str, key: &str) -> R<Options> {
    Ok(Options::new()
        .set(
            "hostname",
            std::env::var("X2GOD_BENCH_HOST").unwrap_or_else(|_| "127.0.0.1".to_owned()),
        )
        .set("port", port.parse::<u32>()?)
        .set("username", user.to_owned())
        .set("key_filename", key.to_owned())
        .set("look_for_keys", false)
        .set("allow_agent", false))
}

fn profile_path(name: &str) -> String {
    // The documented escaping: every byte outside [A-Za-z0-9] as _xx.
    let mut p = String::from("/org/x2go/Control1/profile/");
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() {
            p.push(b as char);
        } else {
            p.push_str(&format!("_{b:02x}"));
        }
    }
    p
}

async fn profile_proxy(
    conn: &zbus::Connection,
    path: &str,
) -> R<x2god_client::ProfileProxy<'static>> {
    Ok(x2god_client::ProfileProxy::builder(conn)
        .path(path.to_owned())
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await?)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

#[tokio::main]
async fn main() -> R<()> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| -> R<&str> {
        a.get(i)
            .map(String::as_str)
            .ok_or_else(|| format!("missing argument {i}; see the header of main.rs").into())
    };
    match arg(0)? {
        "list" => {
            let conn = bus(arg(1)?).await?;
            let p = profile_proxy(&conn, arg(2)?).await?;
            let n: usize = arg(3)?.parse()?;
            p.list_sessions().await?;
            for _ in 0..n {
                let t = Instant::now();
                p.list_sessions().await?;
                println!("{:.6}", t.elapsed().as_secs_f64());
            }
        }
        "once" => {
            let conn = bus(arg(1)?).await?;
            let p = profile_proxy(&conn, arg(2)?).await?;
            p.list_sessions().await?;
        }
        "cold" => {
            let t0 = Instant::now();
            let conn = bus(arg(1)?).await?;
            let dbus = zbus::fdo::DBusProxy::new(&conn).await?;
            let name = zbus::names::BusName::try_from("org.x2go.Control1")?;
            while !dbus.name_has_owner(name.clone()).await? {
                if t0.elapsed() > Duration::from_secs(20) {
                    return Err("x2god did not take its name".into());
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let t_name = t0.elapsed().as_secs_f64();
            let client = Client::with_connection(conn.clone()).await?;
            let prof = client
                .create_profile(arg(2)?, settings(arg(3)?, arg(4)?, arg(5)?)?)
                .await?;
            let t_create = t0.elapsed().as_secs_f64();
            prof.connect(Options::new()).await?;
            let t_connect = t0.elapsed().as_secs_f64();
            let n = prof.list_sessions().await?.len();
            let t_list = t0.elapsed().as_secs_f64();
            println!(
                "name={t_name:.6} create={t_create:.6} connect={t_connect:.6} list={t_list:.6} sessions={n}"
            );
        }
        "signal" => {
            let conn = bus(arg(1)?).await?;
            let rule = zbus::MatchRule::builder()
                .msg_type(zbus::message::Type::Signal)
                .interface("org.x2go.Control1.Profile")
                .member("SessionStateChanged")
                .build()?;
            let mut stream = zbus::MessageStream::for_match_rule(rule, &conn, None).await?;
            println!("READY");
            std::io::stdout().flush()?;
            while let Some(Ok(msg)) = stream.next().await {
                let (n, o, s, c): (String, String, String, String) = msg.body().deserialize()?;
                println!("{n} {o} {s} {c}");
                std::io::stdout().flush()?;
            }
        }
        "connect" => {
            let conn = bus(arg(1)?).await?;
            let client = Client::with_connection(conn.clone()).await?;
            let prefix = arg(2)?;
            let (from, to): (usize, usize) = (arg(3)?.parse()?, arg(4)?.parse()?);
            let s = settings(arg(5)?, arg(6)?, arg(7)?)?;
            let mut profiles = Vec::new();
            for i in from..to {
                profiles.push(client.create_profile(&format!("{prefix}{i}"), s.clone()).await?);
            }
            let t0 = Instant::now();
            let each = join_all(profiles.iter().map(|p| async move {
                let t = Instant::now();
                p.connect(Options::new()).await.map(|()| t.elapsed().as_secs_f64())
            }))
            .await;
            let total = t0.elapsed().as_secs_f64();
            let mut ok: Vec<f64> = each.iter().filter_map(|r| r.as_ref().ok().copied()).collect();
            let errors: Vec<String> =
                each.iter().filter_map(|r| r.as_ref().err().map(|e| e.to_string())).collect();
            ok.sort_by(f64::total_cmp);
            println!(
                "total={total:.6} ok={} errors={} p50={:.6} max={:.6}",
                ok.len(),
                errors.len(),
                pct(&ok, 0.5),
                pct(&ok, 1.0)
            );
            if let Some(e) = errors.first() {
                eprintln!("first error: {e}");
            }
        }
        "calls" => {
            let conn = bus(arg(1)?).await?;
            let prefix = arg(2)?;
            let n: usize = arg(3)?.parse()?;
            let calls: usize = arg(4)?.parse()?;
            let mut proxies = Vec::new();
            for i in 0..n {
                proxies.push(profile_proxy(&conn, &profile_path(&format!("{prefix}{i}"))).await?);
            }
            let t0 = Instant::now();
            let res = join_all((0..calls).map(|i| {
                let p = &proxies[i % n];
                async move {
                    let t = Instant::now();
                    p.is_alive().await.map(|alive| (alive, t.elapsed().as_secs_f64()))
                }
            }))
            .await;
            let total = t0.elapsed().as_secs_f64();
            let mut kinds = std::collections::BTreeMap::<String, usize>::new();
            for r in &res {
                match r {
                    Ok((true, _)) => {}
                    Ok((false, _)) => *kinds.entry("false".into()).or_default() += 1,
                    Err(e) => *kinds.entry(e.to_string()).or_default() += 1,
                }
            }
            for (k, n) in &kinds {
                eprintln!("{n} × {k}");
            }
            let mut lat: Vec<f64> = res
                .iter()
                .filter_map(|r| r.as_ref().ok().filter(|(a, _)| *a).map(|(_, t)| *t))
                .collect();
            lat.sort_by(f64::total_cmp);
            println!(
                "total={total:.6} ok={} failed={} per_s={:.1} p50={:.6} p99={:.6} max={:.6}",
                lat.len(),
                calls - lat.len(),
                calls as f64 / total,
                pct(&lat, 0.5),
                pct(&lat, 0.99),
                pct(&lat, 1.0)
            );
        }
        other => return Err(format!("unknown subcommand {other}").into()),
    }
    Ok(())
}
