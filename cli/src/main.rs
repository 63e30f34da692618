//! `x2goctl`: the command-line client of x2god. Every Manager, Profile and Session method of
//! `org.x2go.Control1` is a subcommand; see `x2goctl --help` and `x2goctl man`.

// A failed step in a unit test must stop it with its message: panicking is the point there.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod cli;
mod commands;
mod exit;
mod man;
mod output;
mod progress;
mod secret;
mod values;
mod watch;

use std::process::ExitCode;

use clap::FromArgMatches;

use crate::cli::{Cli, Command};
use crate::commands::{Ctx, Outcome, Query};
use crate::exit::{Exit, Failure};
use crate::progress::Progress;

fn main() -> ExitCode {
    let matches = cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let json = cli.json;
    let profile = cli.command.profile().map(str::to_owned);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            report(&Failure::local(format!("cannot start: {e}")), json);
            return ExitCode::from(Exit::Failure as u8);
        }
    };
    let result = runtime.block_on(run(cli));
    // A prompt x2god gave up on may still block a thread on the terminal: do not wait for it.
    runtime.shutdown_background();
    match result {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(f) => {
            let f = with_hint(f, profile.as_deref());
            report(&f, json);
            ExitCode::from(f.exit as u8)
        }
    }
}

async fn run(cli: Cli) -> Outcome {
    let quiet = cli.quiet;
    let json = cli.json;
    // These need no daemon.
    match cli.command {
        Command::Completions { shell } => {
            let mut cmd = cli::command();
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, "x2goctl", &mut out);
            output::print(&String::from_utf8_lossy(&out))
                .map_err(|e| Failure::local(e.to_string()))?;
            return Ok(Exit::Ok);
        }
        Command::Man { dir: None } => {
            let mut out = Vec::new();
            man::render_main(cli::command(), &mut out)
                .map_err(|e| Failure::local(e.to_string()))?;
            output::print(&String::from_utf8_lossy(&out))
                .map_err(|e| Failure::local(e.to_string()))?;
            return Ok(Exit::Ok);
        }
        Command::Man { dir: Some(dir) } => {
            let files = man::write_all(cli::command(), &dir)
                .map_err(|e| Failure::local(format!("{}: {e}", dir.display())))?;
            if !quiet {
                eprintln!("wrote {} pages to {}", files.len(), dir.display());
            }
            return Ok(Exit::Ok);
        }
        _ => {}
    }
    let client = x2god_client::Client::session().await?;
    let ctx = Ctx {
        client,
        json,
        quiet,
        progress: Progress::new(quiet),
    };
    match cli.command {
        Command::Profile(p) => commands::profile(&ctx, p).await,
        Command::Connect(a) => commands::connect(&ctx, a).await,
        Command::Disconnect(p) => commands::disconnect(&ctx, &p.profile).await,
        Command::Ping(p) => commands::ping(&ctx, &p.profile).await,
        Command::CheckHost(p) => commands::check_host(&ctx, &p.profile).await,
        Command::TrustHostKey {
            profile,
            fingerprint,
        } => commands::trust_host_key(&ctx, &profile, &fingerprint).await,
        Command::Sessions { profile, raw } => commands::sessions(&ctx, &profile, raw).await,
        Command::Session(s) => commands::session(&ctx, &s.profile, &s.session).await,
        Command::State {
            profile,
            session,
            is,
        } => commands::state(&ctx, &profile, &session, is).await,
        Command::Start(a) => commands::start(&ctx, &a.profile, &a.options).await,
        Command::Resume(a) => commands::resume(&ctx, &a.profile, &a.session, &a.options).await,
        Command::Suspend(s) => commands::suspend(&ctx, &s.profile, &s.session).await,
        Command::Terminate {
            profile,
            session,
            destroy_terminals,
        } => commands::terminate(&ctx, &profile, &session, destroy_terminals).await,
        Command::Dissociate(s) => commands::dissociate(&ctx, &s.profile, &s.session).await,
        Command::Clean {
            profile,
            published_applications,
            yes,
        } => commands::clean(&ctx, &profile, published_applications, yes).await,
        Command::Desktops { profile, maxwait } => commands::desktops(&ctx, &profile, maxwait).await,
        Command::Share(a) => commands::share(&ctx, &a).await,
        Command::ShareFolder {
            profile,
            session,
            path,
            readonly,
        } => commands::share_folder(&ctx, &profile, &session, &path, readonly).await,
        Command::UnshareFolder {
            profile,
            session,
            path,
            all: _,
        } => commands::unshare_folder(&ctx, &profile, &session, path.as_deref()).await,
        Command::Mounts {
            profile,
            session,
            maxwait,
        } => commands::mounts(&ctx, &profile, &session, maxwait).await,
        Command::Apps(a) => commands::apps(&ctx, &a).await,
        Command::Exec {
            profile,
            session,
            app,
        } => commands::exec(&ctx, &profile, &session, &app).await,
        Command::Features { profile, force } => commands::features(&ctx, &profile, force).await,
        Command::Versions { profile, force } => commands::versions(&ctx, &profile, force).await,
        Command::HomeExists(p) => commands::query(&ctx, &p.profile, Query::Home).await,
        Command::SshfsAvailable(p) => commands::query(&ctx, &p.profile, Query::Sshfs).await,
        Command::IsX2goUser { profile, user } => {
            commands::query(&ctx, &profile, Query::X2goUser(user)).await
        }
        Command::Watch {
            profiles,
            count,
            timestamps,
            snapshot,
        } => {
            let args = watch::WatchArgs {
                profiles: &profiles,
                count,
                timestamps,
                snapshot,
                json,
                quiet,
            };
            watch::watch(&ctx.client, args).await
        }
        Command::Secret(c) => commands::secret(&ctx, c).await,
        Command::Version => commands::version(&ctx).await,
        Command::Completions { .. } | Command::Man { .. } => Ok(Exit::Ok),
    }
}

/// Adds the obvious next step to failures that have one, naming the profile.
fn with_hint(f: Failure, profile: Option<&str>) -> Failure {
    if f.hint.is_some() {
        return f;
    }
    let p = profile.unwrap_or("PROFILE");
    let hint = match f.kind.as_str() {
        "NotConnected" => Some(format!("connect first: x2goctl connect {p}")),
        "HostKeyUnknown" => Some(match commands::fingerprint_in(&f.message) {
            Some(fp) => format!(
                "if the fingerprint is the server's, trust it: x2goctl trust-host-key {p} {fp}"
            ),
            None => format!("check the key, then: x2goctl trust-host-key {p} SHA256:…"),
        }),
        "AuthFailed" => Some(format!(
            "give a password (x2goctl connect {p} on a terminal, or --password-stdin), a key \
             (x2goctl profile update {p} --key FILE) or an agent (--agent)"
        )),
        _ => None,
    };
    match hint {
        Some(h) => f.with_hint(h),
        None => f,
    }
}

/// Tells the person (or, with `--json`, the script) what went wrong, on stderr.
fn report(f: &Failure, json: bool) {
    if json {
        let mut v = serde_json::json!({
            "error": {"kind": f.kind, "message": f.message, "exit_code": f.exit as u8}
        });
        if let (Some(h), Some(e)) = (&f.hint, v.get_mut("error").and_then(|e| e.as_object_mut())) {
            e.insert("hint".into(), serde_json::json!(h));
        }
        eprintln!("{v}");
    } else {
        eprintln!("x2goctl: {}", f.message);
        if let Some(h) = &f.hint {
            eprintln!("hint: {h}");
        }
    }
}
