//! The exec envelope: the one line sent as an SSH `exec` request, and the recovery of the
//! command's output from what comes back.
//!
//! sshd hands the line to the user's login shell (`$SHELL -c`), which may print noise from rc
//! files first; marker lines with a per-call random id delimit the real output (doc §1.2–1.3).
//! Unlike python-x2go we quote the command once, properly, and report the exit status.

use super::command::RemoteCommand;
use super::validate::InvalidArgument;

const BEGIN: &str = "X2GODATABEGIN:";
const END: &str = "X2GODATAEND:";

/// `PATH` for X2Go commands; the server scripts live in these directories on every distribution,
/// and a user's own `PATH` could shadow them.
const REMOTE_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// What went wrong recovering a command's output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The begin marker never appeared: the login shell failed before running the envelope
    /// (e.g. a non-Bourne shell or a broken rc file).
    #[error("begin marker missing from command output")]
    MissingBegin,
    /// The begin marker appeared but the end marker did not: the channel closed mid-command.
    #[error("command output truncated (end marker missing)")]
    Truncated,
}

/// One exec envelope, identified by a fresh random id per command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    id: String,
}

impl Envelope {
    /// Accepts an id of 8 to 64 characters from `[a-z0-9-]`, so it is safe unquoted and
    /// long enough not to collide with command output. The caller supplies fresh randomness.
    ///
    /// Why no capitals: with an `X` in the id the end marker could overlap itself
    /// (`X2GODATAEND:1234X2` has period 16), and output ending in the first part of such a
    /// marker would move the cut into the output; without one the marker has no period.
    pub fn new(id: &str) -> Result<Self, InvalidArgument> {
        let ok = (8..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self { id: id.to_owned() })
        } else {
            Err(InvalidArgument::new(
                "envelope id",
                id,
                "expected 8 to 64 characters from [a-z0-9-]",
            ))
        }
    }

    /// The id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The exec line for the login shell (bash or any POSIX sh):
    ///
    /// ```text
    /// echo X2GODATABEGIN:<id>; /bin/sh -c '<PATH=…; export PATH; CMD; exit $?>'; x2god_rc=$?; echo X2GODATAEND:<id>; exit $x2god_rc
    /// ```
    ///
    /// Why the extra `/bin/sh -c` layer (doc §2.19): `x2gostartagent` and `x2goresume-session`
    /// record the parent pid *of their parent* in `sshd.pid`, and `x2gormforward` later sends
    /// SIGTERM to it if it looks like an sshd. If the login shell forked the X2Go script itself,
    /// that grandparent would be the sshd process of our whole persistent connection, and
    /// the server would kill it. With the inner shell in between, the recorded pid is the
    /// short-lived login shell of this one exec. In both shells the command is followed by
    /// another command, so neither shell can replace itself with it by `exec` (bash and newer
    /// dash do that for a last command), which would remove a layer again.
    pub fn wrap(&self, command: &RemoteCommand) -> String {
        let inner = format!(
            "PATH={REMOTE_PATH}; export PATH; {}; exit $?",
            command.to_shell()
        );
        // Quoting fails only on NUL, which `to_shell` never emits; `false` keeps the envelope
        // intact (markers, exit status) if that invariant is ever broken.
        let quoted = shlex::try_quote(&inner)
            .map(|q| q.into_owned())
            .unwrap_or_else(|_| "false".to_owned());
        format!(
            "echo {BEGIN}{id}; /bin/sh -c {quoted}; x2god_rc=$?; echo {END}{id}; exit $x2god_rc",
            id = self.id
        )
    }

    /// Extracts the command's output: exactly the lines strictly between the line starting with
    /// the begin marker and the line starting with the end marker. Noise before the begin marker
    /// and anything after the end marker is dropped.
    ///
    /// Output that does not end in a newline puts the end marker mid-line; that last partial
    /// line is kept (without a newline) rather than reporting a truncation.
    pub fn unwrap(&self, stdout: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
        let begin = format!("{BEGIN}{}", self.id);
        let end = format!("{END}{}", self.id);
        let mut offset = 0;
        let mut data_start = None;
        while offset < stdout.len() {
            let rest = stdout.get(offset..).unwrap_or_default();
            let line_len = rest.iter().position(|&b| b == b'\n');
            let line = rest
                .get(..line_len.unwrap_or(rest.len()))
                .unwrap_or_default();
            let next = line_len.map_or(stdout.len(), |l| offset + l + 1);
            match data_start {
                None => {
                    if line.starts_with(begin.as_bytes()) {
                        data_start = Some(next);
                    }
                }
                Some(start) => {
                    if line.starts_with(end.as_bytes()) {
                        return Ok(stdout.get(start..offset).unwrap_or_default().to_vec());
                    }
                    if let Some(pos) = find(line, end.as_bytes()) {
                        return Ok(stdout.get(start..offset + pos).unwrap_or_default().to_vec());
                    }
                }
            }
            offset = next;
        }
        match data_start {
            None => Err(EnvelopeError::MissingBegin),
            Some(_) => Err(EnvelopeError::Truncated),
        }
    }
}

/// Position of the first occurrence of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ID: &str = "0123abcd-ef45-6789";

    fn env() -> Envelope {
        Envelope::new(ID).unwrap()
    }

    #[test]
    fn id_validation() {
        assert!(Envelope::new("abcdefgh").is_ok());
        assert!(Envelope::new(&"a".repeat(64)).is_ok());
        for bad in [
            "",
            "short",
            "abcdefg",
            "abcdefgh;",
            "abc defgh",
            "abcdefgh\n",
            "äbcdefgh",
            "ABCDEFGH",
            "01234567X2",
        ] {
            assert!(Envelope::new(bad).is_err(), "accepted {bad:?}");
        }
        assert!(Envelope::new(&"a".repeat(65)).is_err());
        let e = Envelope::new(&"$".repeat(10_000)).unwrap_err();
        assert!(e.value.chars().count() <= 64);
    }

    #[test]
    fn wrap_shape() {
        let w = env().wrap(&RemoteCommand::list_sessions(false));
        assert_eq!(
            w,
            "echo X2GODATABEGIN:0123abcd-ef45-6789; /bin/sh -c \
             'PATH=/usr/local/bin:/usr/bin:/bin; export PATH; x2golistsessions; exit $?'; \
             x2god_rc=$?; echo X2GODATAEND:0123abcd-ef45-6789; exit $x2god_rc"
        );
        assert!(!w.contains('\n'));
    }

    #[test]
    fn wrap_quotes_nested_scripts() {
        let w = env().wrap(&RemoteCommand::home_exists());
        let words = shlex::split(&w).unwrap();
        let inner = words
            .iter()
            .position(|w| w == "-c")
            .map(|i| &words[i + 1])
            .unwrap();
        assert!(inner.contains("test -d"));
        let inner_words = shlex::split(inner.trim_end_matches("; exit $?")).unwrap();
        assert!(inner_words.iter().any(|w| w.contains("\"$HOME\"")));
    }

    #[test]
    fn unwrap_drops_noise_and_keeps_lines() {
        let out =
            format!("Welcome!\nX2GODATABEGIN:{ID}\na|b\n\nc\nX2GODATAEND:{ID}\nlogout noise\n");
        assert_eq!(env().unwrap(out.as_bytes()).unwrap(), b"a|b\n\nc\n");
        let out = format!("X2GODATABEGIN:{ID}\nX2GODATAEND:{ID}\n");
        assert_eq!(env().unwrap(out.as_bytes()).unwrap(), b"");
        // CRLF after the markers is tolerated ("starts with").
        let out = format!("X2GODATABEGIN:{ID}\r\nx\r\nX2GODATAEND:{ID}\r\n");
        assert_eq!(env().unwrap(out.as_bytes()).unwrap(), b"x\r\n");
        // End marker without a trailing newline (channel closed right after).
        let out = format!("X2GODATABEGIN:{ID}\nx\nX2GODATAEND:{ID}");
        assert_eq!(env().unwrap(out.as_bytes()).unwrap(), b"x\n");
    }

    #[test]
    fn unwrap_partial_last_line() {
        let out = format!("X2GODATABEGIN:{ID}\n/usrX2GODATAEND:{ID}\n");
        assert_eq!(env().unwrap(out.as_bytes()).unwrap(), b"/usr");
    }

    /// Output ending in any first part of the end marker (no newline) is kept whole: the
    /// marker echoed after it cannot be found earlier, overlapping the output (fuzz finding
    /// with an id `01234567X2`, which `new` now refuses).
    #[test]
    fn unwrap_output_ending_in_part_of_the_end_marker() {
        let end = format!("X2GODATAEND:{ID}");
        for cut in 0..end.len() {
            let payload = format!("x{}", &end[..cut]);
            let out = format!("X2GODATABEGIN:{ID}\n{payload}{end}\ntrailer\n");
            assert_eq!(
                env().unwrap(out.as_bytes()).unwrap(),
                payload.as_bytes(),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn unwrap_errors() {
        assert_eq!(env().unwrap(b""), Err(EnvelopeError::MissingBegin));
        assert_eq!(env().unwrap(b"x\ny\n"), Err(EnvelopeError::MissingBegin));
        let other = "X2GODATABEGIN:ffffffff\nx\nX2GODATAEND:ffffffff\n";
        assert_eq!(
            env().unwrap(other.as_bytes()),
            Err(EnvelopeError::MissingBegin)
        );
        let out = format!("X2GODATABEGIN:{ID}\nhalf a listing\n");
        assert_eq!(env().unwrap(out.as_bytes()), Err(EnvelopeError::Truncated));
        // An end marker before the begin marker does not count.
        let out = format!("X2GODATAEND:{ID}\nX2GODATABEGIN:{ID}\nx\n");
        assert_eq!(env().unwrap(out.as_bytes()), Err(EnvelopeError::Truncated));
        // A begin marker for another id inside the data is just data.
        let out = format!("X2GODATABEGIN:{ID}\nX2GODATAEND:other123\nX2GODATAEND:{ID}\n");
        assert_eq!(
            env().unwrap(out.as_bytes()).unwrap(),
            b"X2GODATAEND:other123\n"
        );
    }

    /// Runs the envelope through real shells, with the test process in the role of the
    /// connection's sshd, and checks both the output and the §2.19 pid property.
    #[test]
    fn real_shells_run_the_envelope_and_never_record_our_pid() {
        use std::os::unix::fs::PermissionsExt;
        use std::process::Command;

        if !std::path::Path::new("/proc/self/status").exists() {
            return;
        }
        let dir = std::env::temp_dir().join(format!("x2god-envelope-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Stands in for x2gostartagent: prints what it would write to sshd.pid.
        let script = dir.join("fake-startagent");
        std::fs::write(
            &script,
            "#!/bin/sh\nsed -n 's/^PPid:[[:space:]]*//p' /proc/$PPID/status\necho \"it's fine\"\nexit 3\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let cmd = RemoteCommand::for_test(vec![script.to_str().unwrap().to_owned()]);
        let envelope = env();
        let wire = envelope.wrap(&cmd);

        let mut ran = 0;
        for shell in ["/bin/bash", "/bin/dash", "/bin/sh"] {
            if !std::path::Path::new(shell).exists() {
                continue;
            }
            ran += 1;
            let out = Command::new(shell).arg("-c").arg(&wire).output().unwrap();
            assert_eq!(out.status.code(), Some(3), "{shell}");
            let data = envelope.unwrap(&out.stdout).unwrap();
            let text = String::from_utf8(data).unwrap();
            let mut lines = text.lines();
            let recorded: u32 = lines.next().unwrap().trim().parse().unwrap();
            assert_ne!(recorded, std::process::id(), "{shell} exposes the sshd pid");
            assert_eq!(lines.next(), Some("it's fine"));
        }
        std::fs::remove_dir_all(&dir).ok();
        assert!(ran > 0);
    }

    proptest! {
        #[test]
        fn unwrap_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = env().unwrap(&bytes);
        }

        #[test]
        fn unwrap_recovers_any_newline_terminated_payload(
            noise in "[^X]{0,40}",
            payload in proptest::collection::vec("[^\n]{0,30}", 0..6),
        ) {
            let body: String = payload.iter().map(|l| format!("{l}\n")).collect();
            prop_assume!(!body.contains("X2GODATAEND:"));
            let out = format!("{noise}\nX2GODATABEGIN:{ID}\n{body}X2GODATAEND:{ID}\n");
            prop_assert_eq!(env().unwrap(out.as_bytes()).unwrap(), body.into_bytes());
        }
    }
}
