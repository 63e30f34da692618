//! Prints every x2god event on the session bus, starting with the current state, until
//! interrupted. With `--agent`, also answers password questions from the terminal's
//! environment (`X2GOD_PASSWORD`), to show the agent side.
//!
//! ```sh
//! cargo run -p x2god-client --example watch
//! X2GOD_PASSWORD=… cargo run -p x2god-client --example watch -- --agent
//! ```

use futures_util::StreamExt;
use x2god_client::{Client, Declined, Event, FnAgent, SecretKind};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = match std::env::var("X2GOD_BUS_ADDRESS") {
        // A private bus, as the tests use.
        Ok(address) => {
            let conn = x2god_client::zbus::connection::Builder::address(address.as_str())
                .build()
                .await?;
            Client::with_connection(conn).await?
        }
        Err(_) => Client::session().await?,
    };
    let _agent = if std::env::args().any(|a| a == "--agent") {
        let agent = FnAgent::new(|req| async move {
            eprintln!(
                "asked for the {} of {}: {:?}",
                req.kind, req.profile, req.prompt
            );
            match (req.kind, std::env::var("X2GOD_PASSWORD")) {
                (SecretKind::Password, Ok(p)) => Ok(p),
                _ => Err(Declined::new("no answer in this terminal")),
            }
        });
        Some(client.register_agent(agent).await?)
    } else {
        None
    };
    if !client.daemon_running().await? {
        eprintln!("x2god is not running; waiting for it");
    }
    let mut events = client.events_with_snapshot().await?;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            event = events.next() => match event {
                Some(Event::Synced) => println!("-- in sync --"),
                Some(event) => println!("{event}"),
                None => break,
            },
        }
    }
    Ok(())
}
