//! Running `x2gostartagent` for a new session: one start at a time per server account among
//! the daemon's profiles (see `turns`), and a start that lost a race with another client of the
//! same account run again, a few times, after a short random pause.

use std::time::Duration;

use tracing::warn;

use super::connection::Connector;
use super::error::Error;
use super::exec::{COMMAND_TIMEOUT, run, run_status};
use super::listing::Listings;
use super::sync::SharedName;
use crate::x2go::command::RemoteCommand;
use crate::x2go::start_failure::{StartRace, start_race};
use crate::x2go::validate::SessionName;

/// How many times a start that lost a race is run again.
pub(super) const RETRIES: u32 = 4;

/// Runs `cmd` (an `x2gostartagent` command) and returns its output; a failure that is a race
/// with another start on the server ([`start_race`]) is retried up to [`RETRIES`] times, with
/// what it left behind terminated first. Every other failure is returned at once.
pub(super) async fn run_start_agent(
    connector: &Connector,
    listings: &Listings,
    profile: &SharedName,
    cmd: &RemoteCommand,
    timeout: Duration,
) -> Result<Vec<u8>, Error> {
    let mut retried = 0;
    loop {
        let out = {
            // Only the script itself waits its turn: it picks and records the display, ports
            // and agent; what follows (nxproxy, the command) runs side by side.
            let _turn = listings.start_turn().await;
            run(connector, cmd, timeout).await
        };
        let Err(Error::Server { status, stderr, .. }) = &out else {
            return out;
        };
        let race = match start_race(*status, stderr) {
            None => false,
            Some(StartRace::Taken { what, leftover }) => {
                if let Some(session) = leftover {
                    terminate(connector, &session).await;
                }
                warn!(profile = %profile, what, "x2gostartagent found no free resource: another start on the account took it");
                true
            }
            Some(StartRace::AgentDied { session }) => {
                let taken = agent_lost_its_port(connector, &session, 0).await;
                // The dead agent's session is recorded as running: not a session to keep.
                terminate(connector, &session).await;
                taken
            }
        };
        if !race || retried >= RETRIES {
            return out;
        }
        retried += 1;
        warn!(profile = %profile, attempt = retried + 1, status = ?status, stderr = %last_lines(stderr),
            "x2gostartagent lost a race with another start on the server; starting again");
        tokio::time::sleep(pause(retried)).await;
    }
}

/// Whether the agent of `session` died because another start took its port (its log says so),
/// looking again for up to `polls` tenths of a second.
pub(super) async fn agent_lost_its_port(
    connector: &Connector,
    session: &SessionName,
    polls: u32,
) -> bool {
    let probe = RemoteCommand::agent_port_taken(session, polls);
    matches!(
        run_status(connector, &probe, COMMAND_TIMEOUT).await,
        Ok(Some(0))
    )
}

/// Ends what a failed start left on the server; a failure here changes nothing for the caller.
async fn terminate(connector: &Connector, session: &SessionName) {
    let _ = run(
        connector,
        &RemoteCommand::terminate(session),
        COMMAND_TIMEOUT,
    )
    .await;
}

/// A random pause growing with the number of retries, so that two clients that collided
/// do not collide again in step.
pub(super) fn pause(retried: u32) -> Duration {
    let base = 150 * u64::from(retried);
    Duration::from_millis(base + rand::random_range(0..=250))
}

/// The last lines of a server's stderr, which say why a start failed (the lines before are
/// the session database's complaints that the script retried itself).
fn last_lines(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    let from = lines.len().saturating_sub(3);
    lines.get(from..).unwrap_or_default().join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_are_short_and_grow() {
        for n in 1..=RETRIES {
            let p = pause(n);
            assert!(p >= Duration::from_millis(150 * u64::from(n)));
            assert!(p <= Duration::from_millis(150 * u64::from(n) + 250));
        }
        assert_eq!(last_lines("a\nb\nc\nd"), "b | c | d");
        assert_eq!(last_lines(""), "");
    }
}
