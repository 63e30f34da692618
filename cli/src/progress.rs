//! A spinner line on stderr while a call runs, so a person sees that a 20-second `start` is
//! working. Only on a terminal: a pipe or a log file gets no carriage returns.

use std::future::Future;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Set while a prompt owns the terminal: the spinner must not draw over the question.
static PAUSED: AtomicBool = AtomicBool::new(false);

/// Keeps the spinner quiet while it lives, e.g. during a password prompt.
pub struct Pause;

impl Pause {
    /// Stops the spinner and clears its line (only when stderr is a terminal).
    pub fn new() -> Pause {
        PAUSED.store(true, Ordering::SeqCst);
        if std::io::stderr().is_terminal() {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
        Pause
    }
}

impl Drop for Pause {
    fn drop(&mut self) {
        PAUSED.store(false, Ordering::SeqCst);
    }
}

/// Calls shorter than this never show a spinner, so quick commands do not flicker.
const DELAY: Duration = Duration::from_millis(300);
const TICK: Duration = Duration::from_millis(100);
const FRAMES: &[&str] = &["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// Whether to draw progress: stderr is a terminal and the user did not ask for quiet.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    enabled: bool,
}

impl Progress {
    /// Progress for this process: on when stderr is a terminal, unless `quiet`.
    pub fn new(quiet: bool) -> Progress {
        Progress {
            enabled: !quiet && std::io::stderr().is_terminal(),
        }
    }

    /// Runs `fut`, showing `label` with a spinner and the elapsed seconds while it runs.
    pub async fn run<F: Future>(self, label: &str, fut: F) -> F::Output {
        if !self.enabled {
            return fut.await;
        }
        let start = Instant::now();
        let mut fut = std::pin::pin!(fut);
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + DELAY, TICK);
        let mut frame = 0usize;
        let mut drawn = false;
        let out = loop {
            tokio::select! {
                out = &mut fut => break out,
                _ = ticker.tick() => {
                    if PAUSED.load(Ordering::SeqCst) {
                        continue;
                    }
                    let f = FRAMES.get(frame % FRAMES.len()).copied().unwrap_or("-");
                    frame += 1;
                    let mut err = std::io::stderr().lock();
                    // Drawing is best effort: a failed write must not fail the command.
                    let _ = write!(err, "\r\x1b[2K{f} {label} {}s", start.elapsed().as_secs());
                    let _ = err.flush();
                    drawn = true;
                }
            }
        };
        if drawn {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
        out
    }
}
