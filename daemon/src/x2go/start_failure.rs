//! Which failures of `x2gostartagent` are races with other starts of the same user, and so
//! worth running again.
//!
//! The script picks a free display, then a free port for each of the session's channels, and
//! records each in the session database; another start in between makes the record fail
//! (`DBD::SQLite::st execute failed: UNIQUE constraint failed: sessions.display`, or
//! `used_ports.port`). It retries those itself ten times, then gives up with exit status 10
//! (display) or 11 (ports). Between its check and the agent's `bind`, another start can take
//! the port too: then the agent dies at once (`Loop: PANIC! Call to bind failed for NX. Error
//! is 98 'Address already in use'` in the session's log) and the script exits 12. Everything
//! else (a session limit, exit 9; a refused desktop share, 8; an agent that fails for any
//! other reason) fails again the same way, and is not retried.

use super::validate::SessionName;

/// What the session database says when a concurrent start recorded the same display or port
/// first.
const TAKEN: &str = "UNIQUE constraint failed";
/// SQLite's answer when another start holds the database's write lock too long.
const LOCKED: &str = "database is locked";
/// What the agent writes to its session log when its port was taken under it.
pub const BIND_TAKEN: &str = "Address already in use";
/// What nxproxy says when the agent it reached is not the session's: the session's port was
/// taken by another session's agent after `x2gostartagent` had seen its own agent run.
pub const NX_COOKIE_REFUSED: &str = "invalid session authentication cookie";

/// A start that failed because another one ran at the same moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartRace {
    /// The display or a port could not be recorded: nothing of the session runs.
    Taken {
        /// What the script gave up on, for the log.
        what: &'static str,
        /// A session row the script recorded before giving up (exit 11), to terminate.
        leftover: Option<SessionName>,
    },
    /// The agent died at start (exit 12): a race only if its log says its port was taken
    /// ([`BIND_TAKEN`]); the caller looks, and terminates the dead session either way.
    AgentDied {
        /// The session the agent was started for.
        session: SessionName,
    },
}

/// Classifies a failed `x2gostartagent` by its exit status and standard error; `None` when
/// it is no race.
pub fn start_race(status: Option<u32>, stderr: &str) -> Option<StartRace> {
    let contended = stderr.contains(TAKEN) || stderr.contains(LOCKED);
    match status {
        Some(10) => Some(StartRace::Taken {
            what: "a free display",
            leftover: None,
        }),
        Some(11) => Some(StartRace::Taken {
            what: "free ports",
            // "…; parameters: hostname (h), session name (NAME) and port (P)."
            leftover: between(stderr, "session name (", ")"),
        }),
        Some(12) => match between(stderr, "Agent session with ID ", ". ") {
            Some(session) => Some(StartRace::AgentDied { session }),
            None if contended => Some(StartRace::Taken {
                what: "a port for the agent",
                leftover: None,
            }),
            None => None,
        },
        _ => None,
    }
}

/// The session name in `text` between `start` and `end` (last occurrence), when valid.
fn between(text: &str, start: &str, end: &str) -> Option<SessionName> {
    let (_, rest) = text.rsplit_once(start)?;
    let (name, _) = rest.split_once(end)?;
    SessionName::parse(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Standard error of real lab runs: ten `x2gostartagent`s at once for one user.
    const DB_NOISE: &str = "DBD::SQLite::st execute failed: UNIQUE constraint failed: sessions.display at /usr/share/perl5/X2Go/Server/DB/SQLite3.pm line 232.\n: /usr/lib/x2go/libx2go-server-db-sqlite3-wrapper insertsession 51 vm x2gosoak-51-1796665227_stRxterm_dp24 at /usr/share/perl5/X2Go/Server/DB.pm line 251.\n";
    const AGENT_DIED: &str = "Failed to start X2Go Agent session with ID x2gosoak-58-1796665257_stRxterm_dp24. X2Go Agent terminated unexpectedly. Aborting session startup.\n";

    #[test]
    fn races_are_recognised() {
        assert_eq!(
            start_race(
                Some(10),
                &format!(
                    "{DB_NOISE}Unable to find free display port or insert new session into database; parameters: port (60), hostname (h) and session name (x2gosoak-60-1796665265_stRxterm_dp24)."
                )
            ),
            Some(StartRace::Taken {
                what: "a free display",
                leftover: None
            })
        );
        let ports = "Unable to find free port or insert new session into database; parameters: hostname (h), session name (x2gosoak-61-1796665265_stRxterm_dp24) and port (30010).";
        assert_eq!(
            start_race(Some(11), ports),
            Some(StartRace::Taken {
                what: "free ports",
                leftover: Some(SessionName::parse("x2gosoak-61-1796665265_stRxterm_dp24").unwrap())
            })
        );
        assert_eq!(
            start_race(Some(12), &format!("{DB_NOISE}{AGENT_DIED}")),
            Some(StartRace::AgentDied {
                session: SessionName::parse("x2gosoak-58-1796665257_stRxterm_dp24").unwrap()
            })
        );
    }

    #[test]
    fn other_failures_are_not_races() {
        // The noise of a start that succeeded after the script's own retries does not make
        // any failure a race: only the status does.
        for (status, stderr) in [
            (Some(9), "LIMIT 1"),
            (Some(8), "ACCESS DENIED"),
            (Some(1), DB_NOISE),
            (Some(127), "x2gostartagent: command not found"),
            (None, DB_NOISE),
            (
                Some(12),
                "Failed to start X2Go Agent session with ID ;rm -rf. oops",
            ),
        ] {
            assert_eq!(start_race(status, stderr), None, "{status:?} {stderr}");
        }
    }
}
