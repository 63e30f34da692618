//! `x2god-tray`: an example panel applet for x2god, built only on the `x2god-client` library.
//!
//! It shows a StatusNotifierItem whose menu lists x2god's profiles and their sessions with
//! their state; connect, disconnect, start, resume, suspend and terminate are menu entries.
//! Session state changes and lost connections become desktop notifications, and it answers
//! x2god's password and host-key questions as the registered agent (see [`prompt`]).
//!
//! ```sh
//! x2god-tray                       # on the session bus
//! X2GOD_ASKPASS=/usr/bin/ssh-askpass x2god-tray --verbose
//! ```

mod chooser;
mod model;
mod notify;
mod prompt;
mod tray;

use std::io::IsTerminal;
use std::process::ExitCode;

use futures_util::{FutureExt, StreamExt};
use ksni::TrayMethods;
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};
use x2god_client::{Client, ErrorExt, Options};

use crate::model::{Action, Model, Notice};
use crate::notify::Notifier;
use crate::prompt::{Asker, PromptAgent};
use crate::tray::Tray;

const USAGE: &str = "\
usage: x2god-tray [--verbose] [--help] [--version]

A tray applet for x2god (org.x2go.Control1 on the session bus): profiles and sessions in the
panel's menu, notifications of changes, and the answers to x2god's password and host-key
questions.

Environment:
  X2GOD_ASKPASS, SSH_ASKPASS  askpass program for passwords and host keys (prompt as argument,
                              answer on stdout; for a host key, answer \"yes\" to trust it)
  DISPLAY / WAYLAND_DISPLAY   without an askpass program, zenity or kdialog are used if found
  X2GOD_TRAY_LOG              log filter (default: info; --verbose: debug)
";

fn main() -> ExitCode {
    let mut verbose = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "-v" | "--verbose" => verbose = true,
            "-h" | "--help" => {
                print!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "-V" | "--version" => {
                println!("x2god-tray {}", env!("CARGO_PKG_VERSION"));
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("x2god-tray: unknown argument {other:?}\n\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let default = if verbose { "debug" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("X2GOD_TRAY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in journals and log files.
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    // Two workers are plenty for an applet; ksni and zbus both spawn onto this runtime.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("x2god-tray: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::session()
        .await
        .map_err(|e| format!("cannot reach the session bus: {e}"))?;
    let notifier = Notifier::start(client.connection().clone());

    let asker = Asker::find(|k| std::env::var_os(k));
    // Without the agent the menu still works; connects then need x2goctl or stored secrets.
    let agent = match client
        .register_agent(PromptAgent::new(asker, notifier.clone()))
        .await
    {
        Ok(g) => Some(g),
        Err(e) => {
            warn!(error = %e, "cannot register as x2god's agent; prompts go unanswered");
            None
        }
    };

    // Subscribed before the first look at the daemon, so no change falls in between.
    let mut events = client
        .events_with_snapshot()
        .await
        .map_err(|e| format!("cannot follow x2god's events: {e}"))?;
    let mut model = Model::default();
    model.set_daemon(client.daemon_running().await.unwrap_or(false));

    let (actions, mut clicks) = mpsc::unbounded_channel();
    let tray = Tray {
        model: model.clone(),
        actions,
    };
    // Not waiting for a panel: one that starts later (or is restarted) picks the item up.
    let handle = tray
        .assume_sni_available(true)
        .spawn()
        .await
        .map_err(|e| format!("cannot serve the tray item: {e}"))?;
    info!("tray item up");

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            ev = events.next() => {
                let Some(ev) = ev else {
                    warn!("the session bus connection ended");
                    break;
                };
                let mut batch = vec![ev];
                // A snapshot arrives as a burst: one menu rebuild for all of it.
                while let Some(Some(ev)) = events.next().now_or_never() {
                    batch.push(ev);
                }
                for ev in &batch {
                    debug!(event = %ev, "x2god");
                    for n in model.apply(ev) {
                        notifier.show(n);
                    }
                }
                let shown = model.clone();
                if handle.update(move |t| t.model = shown).await.is_none() {
                    warn!("the tray service ended");
                    break;
                }
            }
            click = clicks.recv() => match click {
                Some(Action::Quit) | None => break,
                Some(action) => {
                    info!(%action, "menu");
                    tokio::spawn(perform(client.clone(), notifier.clone(), action));
                }
            },
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
        }
    }
    info!("shutting down");
    handle.shutdown().await;
    if let Some(agent) = agent {
        let _ = agent.unregister().await;
    }
    Ok(())
}

/// Asks for a folder (see `chooser`) and shares it into the session; says so when done.
async fn share_folder(
    client: &Client,
    notifier: &Notifier,
    p: &x2god_client::ProfileId,
    s: &x2god_client::SessionId,
) -> Result<(), x2god_client::Error> {
    let Some(chooser) = chooser::FolderChooser::find(|k| std::env::var_os(k)) else {
        notifier.show(Notice {
            key: format!("share:{}", s.name),
            summary: "No folder chooser".into(),
            body: "Install zenity or kdialog, or set X2GOD_FOLDER_CHOOSER, to share folders from \
                   here (x2goctl share-folder works without)."
                .into(),
            urgent: false,
        });
        return Ok(());
    };
    let Some(folder) = chooser.choose(&s.name).await else {
        return Ok(());
    };
    let profile = client.profile_at(p.path.clone()).await?;
    let session = profile.session(&s.name).await?;
    session
        .share_folder(&folder.to_string_lossy(), false)
        .await?;
    info!(session = %s.name, folder = %folder.display(), "folder shared");
    notifier.show(Notice {
        key: format!("share:{}", s.name),
        summary: format!("Shared with {}", s.name),
        body: folder.display().to_string(),
        urgent: false,
    });
    Ok(())
}

/// Runs a menu action against x2god; a failure becomes a notification. Each runs in its own
/// task: a slow start or a connect waiting for a password blocks nothing else.
async fn perform(client: Client, notifier: Notifier, action: Action) {
    let result = match &action {
        Action::StartDaemon => client
            .version()
            .await
            .map(|v| info!(version = %v, "x2god is up")),
        Action::Connect(p) => match client.profile_at(p.path.clone()).await {
            // x2god asks this applet's agent for whatever the connect needs.
            Ok(profile) => profile.connect(Options::new()).await,
            Err(e) => Err(e),
        },
        Action::Disconnect(p) => match client.profile_at(p.path.clone()).await {
            Ok(profile) => profile.disconnect().await,
            Err(e) => Err(e),
        },
        Action::Start(p) => match client.profile_at(p.path.clone()).await {
            Ok(profile) => profile
                .start(Options::new())
                .await
                .map(|s| info!(session = %s.name(), "started")),
            Err(e) => Err(e),
        },
        Action::Resume(p, s) => match client.profile_at(p.path.clone()).await {
            Ok(profile) => profile.resume(&s.name, Options::new()).await,
            Err(e) => Err(e),
        },
        Action::Suspend(p, s) => match client.profile_at(p.path.clone()).await {
            Ok(profile) => profile.suspend(&s.name).await,
            Err(e) => Err(e),
        },
        Action::Terminate(p, s) => match client.profile_at(p.path.clone()).await {
            Ok(profile) => profile.terminate(&s.name).await,
            Err(e) => Err(e),
        },
        Action::ShareFolder(p, s) => share_folder(&client, &notifier, p, s).await,
        Action::Quit => Ok(()),
    };
    if let Err(e) = result {
        warn!(%action, error = %e, "failed");
        notifier.show(Notice {
            key: format!("failed:{action}"),
            summary: format!("Could not {action}"),
            body: e.message(),
            urgent: false,
        });
    }
}
