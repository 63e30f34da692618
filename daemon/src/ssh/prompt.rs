//! Asking a person: passwords, key passphrases, one-time codes and unknown host keys.
//!
//! The SSH layer does not know who answers; the caller passes a [`Prompter`] (in
//! [`AuthParams::prompter`](super::AuthParams::prompter) and
//! [`HostKeyPolicy::prompter`](super::HostKeyPolicy::prompter)). Without one, nobody is asked
//! and a connect behaves as if no person were there.
//!
//! Time spent waiting for an answer does not count against
//! [`ConnectParams::timeout`](super::ConnectParams::timeout): a person needs longer than a
//! network does, and the prompter bounds its own wait ([`PromptError::Timeout`]).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::error::Error;
use super::host_key_info::HostKeyInfo;
use super::secret::Secret;

/// Which connection of a connect a question is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hop {
    /// The server itself (the last hop).
    Target,
    /// The jump host the server is reached through.
    Proxy,
}

/// What kind of secret is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretKind {
    /// A login password.
    Password,
    /// The passphrase of an encrypted private key file.
    Passphrase,
    /// Any other keyboard-interactive question, e.g. a one-time code; the prompt says what.
    Response,
}

impl fmt::Display for SecretKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SecretKind::Password => "password",
            SecretKind::Passphrase => "passphrase",
            SecretKind::Response => "response",
        })
    }
}

/// Why a question got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    /// Nobody can be asked (e.g. no agent is registered). The connect goes on without the
    /// answer, and the reason appears in the final error.
    #[error("{0}")]
    Unavailable(String),
    /// A person declined to answer. The connect is given up with [`Error::Cancelled`].
    #[error("{0}")]
    Cancelled(String),
    /// Nobody answered in time. The connect is given up with [`Error::Timeout`].
    #[error("{0}")]
    Timeout(String),
}

/// A future returned by a [`Prompter`].
pub type PromptFuture<T> = Pin<Box<dyn Future<Output = Result<T, PromptError>> + Send + 'static>>;

/// Someone who can answer questions during a connect.
///
/// Both methods may take as long as a person needs; the prompter is expected to give up
/// itself ([`PromptError::Timeout`]). A connect that is abandoned (its future dropped) drops
/// the returned future, which is how a prompter learns that the answer is no longer needed.
pub trait Prompter: Send + Sync + 'static {
    /// Asks for a secret. `prompt` is the question to show (the server's own text for
    /// keyboard-interactive questions); `echo` says whether the answer may be shown while
    /// typed (true for e.g. a user name, false for passwords and codes).
    fn secret(
        &self,
        hop: Hop,
        kind: SecretKind,
        prompt: String,
        echo: bool,
    ) -> PromptFuture<Secret>;

    /// Asks whether to trust the unknown host key `key` of `name` (the known_hosts name:
    /// `host`, `[host]:port` or the configured alias). `true` learns the key into the
    /// policy's own known_hosts file. Never asked for a changed or revoked key.
    fn confirm_host_key(&self, hop: Hop, name: String, key: HostKeyInfo) -> PromptFuture<bool>;
}

/// A shared [`Prompter`], cheap to clone, to put into parameter structs.
#[derive(Clone)]
pub struct PromptHandle(pub Arc<dyn Prompter>);

impl PromptHandle {
    /// Wraps `prompter`.
    pub fn new<P: Prompter>(prompter: Arc<P>) -> Self {
        Self(prompter)
    }
}

impl fmt::Debug for PromptHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PromptHandle")
    }
}

/// Two handles are equal when they share one prompter.
impl PartialEq for PromptHandle {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for PromptHandle {}

/// The error that ends a connect when a question was declined or timed out; `None` for
/// [`PromptError::Unavailable`], after which the connect goes on.
pub(crate) fn abort_error(e: &PromptError, what: &str) -> Option<Error> {
    match e {
        PromptError::Unavailable(_) => None,
        PromptError::Cancelled(m) => Some(Error::Cancelled(format!("{what}: {m}"))),
        PromptError::Timeout(m) => Some(Error::Timeout(format!("waiting for {what}: {m}"))),
    }
}

/// Time during which a person was being asked, shared by everything of one connect, so that
/// the connect's deadline moves by that much.
#[derive(Clone)]
pub(crate) struct PauseClock(Arc<watch::Sender<Paused>>);

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Paused {
    /// Questions waiting for an answer now.
    active: usize,
    /// Since when `active` has been non-zero.
    since: Option<Instant>,
    /// Total time with at least one question open, up to `since`.
    total: Duration,
}

/// Keeps the clock paused while it lives.
pub(crate) struct PauseGuard(Arc<watch::Sender<Paused>>);

impl Drop for PauseGuard {
    fn drop(&mut self) {
        self.0.send_modify(|p| {
            p.active = p.active.saturating_sub(1);
            if p.active == 0
                && let Some(since) = p.since.take()
            {
                p.total += since.elapsed();
            }
        });
    }
}

/// The deadline of a [`PauseClock::run`] passed.
#[derive(Debug)]
pub(crate) struct Elapsed;

impl PauseClock {
    pub(crate) fn new() -> Self {
        Self(Arc::new(watch::Sender::new(Paused::default())))
    }

    /// Pauses the clock until the guard is dropped.
    pub(crate) fn pause(&self) -> PauseGuard {
        self.0.send_modify(|p| {
            if p.active == 0 {
                p.since = Some(Instant::now());
            }
            p.active += 1;
        });
        PauseGuard(Arc::clone(&self.0))
    }

    /// Runs `work` until it finishes or `deadline`, moved by the paused time, passes. While a
    /// question is open the deadline cannot pass.
    pub(crate) async fn run<F: Future>(
        &self,
        deadline: Instant,
        work: F,
    ) -> Result<F::Output, Elapsed> {
        let mut rx = self.0.subscribe();
        tokio::pin!(work);
        loop {
            let state = *rx.borrow_and_update();
            let expiry = async {
                if state.active > 0 {
                    std::future::pending::<()>().await;
                } else {
                    tokio::time::sleep_until(deadline + state.total).await;
                }
            };
            tokio::select! {
                biased;
                out = &mut work => return Ok(out),
                () = expiry => return Err(Elapsed),
                changed = rx.changed() => {
                    if changed.is_err() {
                        // Cannot happen while we hold the sender; finish without a limit
                        // rather than spin.
                        return Ok(work.await);
                    }
                }
            }
        }
    }
}

/// A prompter bound to one hop and one connect's clock.
#[derive(Clone)]
pub(crate) struct Asker {
    prompter: PromptHandle,
    hop: Hop,
    clock: PauseClock,
}

impl Asker {
    /// `None` when there is no prompter.
    pub(crate) fn new(
        prompter: Option<&PromptHandle>,
        hop: Hop,
        clock: &PauseClock,
    ) -> Option<Self> {
        prompter.map(|p| Self {
            prompter: p.clone(),
            hop,
            clock: clock.clone(),
        })
    }

    pub(crate) async fn secret(
        &self,
        kind: SecretKind,
        prompt: String,
        echo: bool,
    ) -> Result<Secret, PromptError> {
        let _paused = self.clock.pause();
        tracing::debug!(hop = ?self.hop, %kind, "asking for a secret");
        let answer = self.prompter.0.secret(self.hop, kind, prompt, echo).await;
        if let Err(e) = &answer {
            tracing::debug!(hop = ?self.hop, %kind, error = %e, "no answer");
        }
        answer
    }

    pub(crate) async fn confirm_host_key(
        &self,
        name: String,
        key: HostKeyInfo,
    ) -> Result<bool, PromptError> {
        let _paused = self.clock.pause();
        tracing::debug!(hop = ?self.hop, host = %name, "asking whether to trust a host key");
        self.prompter.0.confirm_host_key(self.hop, name, key).await
    }
}

/// A prompter with canned answers, for tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use super::*;

    /// One question as a [`Script`] saw it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) enum Asked {
        Secret {
            hop: Hop,
            kind: SecretKind,
            prompt: String,
            echo: bool,
        },
        HostKey {
            hop: Hop,
            name: String,
            key: HostKeyInfo,
        },
    }

    /// Answers secrets from a queue (an empty queue is [`PromptError::Unavailable`]) and host
    /// keys with a fixed verdict; records every question.
    #[derive(Clone, Default)]
    pub(crate) struct Script {
        pub(crate) secrets: Arc<Mutex<VecDeque<Result<Secret, PromptError>>>>,
        pub(crate) host_keys: Option<Result<bool, PromptError>>,
        pub(crate) asked: Arc<Mutex<Vec<Asked>>>,
        /// How long each answer takes.
        pub(crate) delay: Duration,
    }

    impl Script {
        pub(crate) fn answers(answers: &[&str]) -> Self {
            let s = Self::default();
            s.secrets
                .lock()
                .unwrap()
                .extend(answers.iter().map(|a| Ok(Secret::new((*a).to_owned()))));
            s
        }

        pub(crate) fn handle(&self) -> PromptHandle {
            PromptHandle::new(Arc::new(self.clone()))
        }

        pub(crate) fn asked(&self) -> Vec<Asked> {
            self.asked.lock().unwrap().clone()
        }
    }

    impl Prompter for Script {
        fn secret(
            &self,
            hop: Hop,
            kind: SecretKind,
            prompt: String,
            echo: bool,
        ) -> PromptFuture<Secret> {
            self.asked.lock().unwrap().push(Asked::Secret {
                hop,
                kind,
                prompt,
                echo,
            });
            let answer = self.secrets.lock().unwrap().pop_front().unwrap_or_else(|| {
                Err(PromptError::Unavailable(
                    "no agent is registered to ask".into(),
                ))
            });
            let delay = self.delay;
            Box::pin(async move {
                tokio::time::sleep(delay).await;
                answer
            })
        }

        fn confirm_host_key(&self, hop: Hop, name: String, key: HostKeyInfo) -> PromptFuture<bool> {
            self.asked
                .lock()
                .unwrap()
                .push(Asked::HostKey { hop, name, key });
            let answer = self.host_keys.clone().unwrap_or_else(|| {
                Err(PromptError::Unavailable(
                    "no agent is registered to ask".into(),
                ))
            });
            let delay = self.delay;
            Box::pin(async move {
                tokio::time::sleep(delay).await;
                answer
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real time (tokio's paused clock needs a feature this crate does not enable): the
    // margins are wide enough for a loaded machine.
    const MS: Duration = Duration::from_millis(1);

    #[tokio::test]
    async fn clock_moves_the_deadline_by_the_time_asked() {
        let clock = PauseClock::new();
        let start = Instant::now();
        // 100 ms of work, 600 ms of asking, 100 ms of work: 200 ms against a 400 ms limit.
        let c = clock.clone();
        let out = clock
            .run(start + 400 * MS, async move {
                tokio::time::sleep(100 * MS).await;
                {
                    let _p = c.pause();
                    tokio::time::sleep(600 * MS).await;
                }
                tokio::time::sleep(100 * MS).await;
                7
            })
            .await;
        assert_eq!(out.unwrap(), 7);
        assert!(start.elapsed() >= 800 * MS);

        // Without asking, the limit holds.
        let clock = PauseClock::new();
        let start = Instant::now();
        let out = clock
            .run(start + 200 * MS, async {
                tokio::time::sleep(2000 * MS).await;
            })
            .await;
        assert!(out.is_err());
        let took = start.elapsed();
        assert!(took >= 200 * MS && took < 1500 * MS, "{took:?}");
    }

    #[tokio::test]
    async fn clock_overlapping_pauses_count_once() {
        let clock = PauseClock::new();
        let start = Instant::now();
        let c = clock.clone();
        let out = clock
            .run(start + 300 * MS, async move {
                let a = c.pause();
                tokio::time::sleep(200 * MS).await;
                let b = c.pause();
                tokio::time::sleep(200 * MS).await;
                drop(a);
                tokio::time::sleep(200 * MS).await;
                drop(b);
                // 600 ms paused, once; 2 s of work now exceeds the 300 ms limit.
                tokio::time::sleep(2000 * MS).await;
            })
            .await;
        assert!(out.is_err());
        let took = start.elapsed();
        assert!(took >= 900 * MS && took < 2000 * MS, "{took:?}");
    }

    #[test]
    fn handle_debug_and_eq() {
        let s = testing::Script::default();
        let a = s.handle();
        let b = a.clone();
        assert_eq!(a, b);
        assert_ne!(a, s.handle());
        assert_eq!(format!("{a:?}"), "PromptHandle");
    }

    #[test]
    fn abort_errors() {
        assert!(abort_error(&PromptError::Unavailable("x".into()), "the password").is_none());
        let e = abort_error(&PromptError::Cancelled("declined".into()), "the password").unwrap();
        assert!(matches!(e, Error::Cancelled(_)));
        assert!(e.to_string().contains("the password: declined"), "{e}");
        let e = abort_error(
            &PromptError::Timeout("no answer in 60 s".into()),
            "the password",
        );
        assert!(matches!(e, Some(Error::Timeout(_))));
    }
}
