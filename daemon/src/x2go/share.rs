//! Client folders shared into a session (doc §2.12–2.13): which paths `x2gomountdirs` can
//! carry unharmed, where the server mounts them, and what its answer means.
//!
//! `x2gomountdirs` joins its remaining arguments with blanks, splits the result at
//! `__REVERSESSH_PORT__` (or `__SSH_PORT__`) and then at `:`, takes the markers
//! `__PRINT_SPOOL_` and `__MIMEBOX_SPOOL_` out wherever they stand, and finally runs `sshfs`
//! through a shell with the path inside double quotes. So a path with `:`, a marker, a double
//! quote, `$`, a backquote or a backslash would mount another folder than the one asked for, or
//! run something on the server; such paths are refused, never escaped. The mount point's name
//! is the path with `/` and blanks turned into `_` (and `~` dropped), which must fit a file
//! name and must not be another share's.

use super::validate::InvalidArgument;

/// The longest file name the server's file system takes (`NAME_MAX`), which the mount point's
/// name must fit.
const NAME_MAX: usize = 255;

/// Words `x2gomountdirs` reads as part of its own syntax.
const MARKERS: [&str; 4] = [
    "__REVERSESSH_PORT__",
    "__SSH_PORT__",
    "__PRINT_SPOOL_",
    "__MIMEBOX_SPOOL_",
];

/// What a share is for: the server mounts each kind in its own place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShareKind {
    /// A folder the user shares: `/tmp/.x2go-<user>/media/disk/<name>`.
    Folder,
    /// The print spool: `/tmp/.x2go-<user>/spool/C-<session>`.
    PrintSpool,
    /// The MIME box: `/tmp/.x2go-<user>/mimebox/C-<session>`.
    MimeBox,
}

impl ShareKind {
    /// The marker `x2gomountdirs` expects after the path.
    pub fn marker(self) -> &'static str {
        match self {
            ShareKind::Folder => "",
            ShareKind::PrintSpool => "__PRINT_SPOOL_",
            ShareKind::MimeBox => "__MIMEBOX_SPOOL_",
        }
    }
}

/// An absolute local folder path that `x2gomountdirs` carries unharmed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SharePath(String);

impl SharePath {
    /// Checks `path` (already made absolute and canonical by the caller, who knows the local
    /// file system).
    pub fn parse(path: &str) -> Result<SharePath, InvalidArgument> {
        let err = |reason| Err(InvalidArgument::new("shared folder", path, reason));
        if !path.starts_with('/') {
            return err("must be an absolute path");
        }
        if path.chars().any(char::is_control) {
            return err("must not contain control characters (a newline, a tab, …)");
        }
        if let Some(c) = path
            .chars()
            .find(|c| matches!(c, ':' | '"' | '$' | '`' | '\\' | '~'))
        {
            let _ = c;
            return err(
                "must not contain ':', '\"', '$', '`', '\\' or '~', which x2gomountdirs reads as syntax",
            );
        }
        if MARKERS.iter().any(|m| path.contains(m)) {
            return err("must not contain x2gomountdirs' markers (__REVERSESSH_PORT__, …)");
        }
        let share = SharePath(path.to_owned());
        if share.mount_name().len() > NAME_MAX {
            return err("is too long for the server's mount point name (255 bytes)");
        }
        Ok(share)
    }

    /// The path.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name of the folder's mount point on the server: the path with `/` and blanks as
    /// `_`. Two folders with one name cannot both be shared into a session.
    pub fn mount_name(&self) -> String {
        self.0.replace(['/', ' '], "_")
    }

    /// The last argument of `x2gomountdirs`: the path, the kind's marker and the port of the
    /// reverse forward.
    pub fn mount_arg(&self, kind: ShareKind, port: u16) -> String {
        format!("{}{}__REVERSESSH_PORT__{port}", self.0, kind.marker())
    }
}

/// Why `x2gomountdirs` did not mount a folder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MountFailure {
    /// The server has no `sshfs`.
    #[error("the server cannot mount client folders: {0}")]
    NoSshfs(String),
    /// The session has a mount of that name already.
    #[error(
        "the server has a mount of this name in the session already (another folder with the same name once '/' and blanks are '_'?)"
    )]
    AlreadyMounted,
    /// `sshfs` failed; the server's own words.
    #[error("the server could not mount the folder: {0}")]
    Failed(String),
}

/// Reads what `x2gomountdirs` printed for `path`: success is its line `mount <path> ok`.
pub fn parse_mount_result(
    path: &SharePath,
    stdout: &str,
    stderr: &str,
) -> Result<(), MountFailure> {
    let ok = format!("mount {} ok", path.as_str());
    if stdout.lines().any(|l| l == ok) {
        return Ok(());
    }
    if let Some(line) = stdout
        .lines()
        .find(|l| l.contains("sshfs command is not installed"))
    {
        return Err(MountFailure::NoSshfs(line.trim().to_owned()));
    }
    if stderr
        .lines()
        .any(|l| l.starts_with("insertion of ") && l.contains("already mounted"))
    {
        return Err(MountFailure::AlreadyMounted);
    }
    let said: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    Err(MountFailure::Failed(if said.is_empty() {
        "no confirmation from x2gomountdirs".to_owned()
    } else {
        said.join("; ")
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn paths_the_server_carries_unharmed() {
        for ok in [
            "/home/alice/Documents",
            "/home/alice/My Documents",
            "/home/alice/two  blanks",
            "/home/alice/Bücher",
            "/tmp/it's",
            "/",
            "/a/b c/d-e_f.g",
        ] {
            let p = SharePath::parse(ok).unwrap();
            assert_eq!(p.as_str(), ok);
        }
    }

    #[test]
    fn paths_that_would_mount_something_else_are_refused() {
        for bad in [
            "relative/path",
            "",
            "/a:b",
            "/a\"b",
            "/a$b",
            "/a`id`",
            "/a\\b",
            "/home/~bob",
            "/a\nb",
            "/a\tb",
            "/x__REVERSESSH_PORT__1",
            "/x__PRINT_SPOOL_",
            "/x__MIMEBOX_SPOOL_",
            "/x__SSH_PORT__22",
        ] {
            assert!(SharePath::parse(bad).is_err(), "{bad:?}");
        }
        let long = format!("/{}", "x".repeat(300));
        assert!(SharePath::parse(&long).is_err());
    }

    #[test]
    fn mount_names_and_arguments() {
        let p = SharePath::parse("/home/a/My Docs").unwrap();
        assert_eq!(p.mount_name(), "_home_a_My_Docs");
        assert_eq!(
            p.mount_arg(ShareKind::Folder, 40001),
            "/home/a/My Docs__REVERSESSH_PORT__40001"
        );
        assert_eq!(
            p.mount_arg(ShareKind::PrintSpool, 7),
            "/home/a/My Docs__PRINT_SPOOL___REVERSESSH_PORT__7"
        );
        assert_eq!(
            p.mount_arg(ShareKind::MimeBox, 7),
            "/home/a/My Docs__MIMEBOX_SPOOL___REVERSESSH_PORT__7"
        );
    }

    #[test]
    fn mount_results() {
        let p = SharePath::parse("/tmp/s").unwrap();
        let ok = "dirs:/tmp/s\nssh port:1\nHost:127.0.0.1\nUser:u\ninserted, timeout 30 sshfs …\nmount /tmp/s ok\n";
        assert_eq!(parse_mount_result(&p, ok, ""), Ok(()));
        // Another folder's success is not this one's.
        let other = ok.replace("mount /tmp/s ok", "mount /tmp/s2 ok");
        assert!(parse_mount_result(&p, &other, "").is_err());
        assert_eq!(
            parse_mount_result(
                &p,
                "dirs:/tmp/s\n",
                "insertion of /tmp/s failed (already mounted?), not mounting\n"
            ),
            Err(MountFailure::AlreadyMounted)
        );
        assert!(matches!(
            parse_mount_result(
                &p,
                "the sshfs command is not installed on this X2Go Server, cannot share client-side folders\n",
                ""
            ),
            Err(MountFailure::NoSshfs(_))
        ));
        assert_eq!(
            parse_mount_result(&p, "dirs:/tmp/s\n", "mounting of /tmp/s failed\n"),
            Err(MountFailure::Failed("mounting of /tmp/s failed".into()))
        );
    }

    /// Runs `mount_dirs` with a real shell, a fake `x2gomountdirs` that records its arguments
    /// and what it found of the key file, and `bundle` on standard input.
    fn run_mount_dirs(home: &std::path::Path, bundle: &[u8]) -> (String, String) {
        use std::io::Write;
        use std::os::unix::fs::PermissionsExt;
        let bin = home.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let fake = bin.join("x2gomountdirs");
        std::fs::write(
            &fake,
            "#!/bin/sh\nprintf '%s|' \"$@\" >\"$HOME/args\"\nstat -c %a \"$4\" >\"$HOME/mode\"\ncat \"$4\" >\"$HOME/seen\"\necho \"mount /tmp/s ok\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let name = crate::x2go::SessionName::parse("u-50-1700000000_stDXFCE_dp24").unwrap();
        let user = crate::x2go::Username::parse("alice").unwrap();
        let path = SharePath::parse("/tmp/s").unwrap();
        let cmd = crate::x2go::RemoteCommand::mount_dirs(
            &name,
            4321,
            &user,
            &path,
            ShareKind::Folder,
            40001,
        );
        let mut child = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(cmd.to_shell())
            .env("HOME", home)
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(bundle).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            std::fs::read_to_string(home.join("args")).unwrap(),
        )
    }

    #[test]
    fn the_key_arrives_private_and_goes_again() {
        let home = tempfile::tempdir().unwrap();
        // A key file left behind world-readable (as python-x2go leaves them) is not reused.
        let ssh = home.path().join(".x2go/ssh");
        std::fs::create_dir_all(&ssh).unwrap();
        std::fs::write(ssh.join("key.z4321"), "old").unwrap();
        let (stdout, args) = run_mount_dirs(
            home.path(),
            b"PRIVATE KEY----BEGIN RSA IDENTITY----ssh-ed25519 AAAA",
        );
        assert!(stdout.contains("mount /tmp/s ok"), "{stdout}");
        let key = ssh.join("key.z4321");
        assert_eq!(
            args,
            format!(
                "dir|u-50-1700000000_stDXFCE_dp24|alice|{}|/tmp/s__REVERSESSH_PORT__40001|",
                key.display()
            )
        );
        assert_eq!(
            std::fs::read_to_string(home.path().join("mode"))
                .unwrap()
                .trim(),
            "600"
        );
        assert_eq!(
            std::fs::read_to_string(home.path().join("seen")).unwrap(),
            "PRIVATE KEY----BEGIN RSA IDENTITY----ssh-ed25519 AAAA"
        );
        assert!(!key.exists(), "the key file must be gone");
    }

    proptest! {
        #[test]
        fn accepted_paths_survive_the_servers_parsing(path in "/[ -~\u{e4}\u{fc}]{0,80}") {
            if let Ok(p) = SharePath::parse(&path) {
                // What x2gomountdirs does with its argument: split off the port, then the
                // folder list at ':', then take the markers out.
                let arg = p.mount_arg(ShareKind::Folder, 4242);
                let (dirs, port) = arg.split_once("__REVERSESSH_PORT__").unwrap();
                prop_assert_eq!(port, "4242");
                let folders: Vec<&str> = dirs.split(':').collect();
                prop_assert_eq!(folders.len(), 1);
                let folder = folders[0].replace("__PRINT_SPOOL_", "").replace("__MIMEBOX_SPOOL_", "");
                prop_assert_eq!(folder.as_str(), p.as_str());
                prop_assert!(!folder.contains(['"', '$', '`', '\\']));
            }
        }
    }
}
