//! The local NX3 proxy's options (doc §3.5).
//!
//! The options name the session's X cookie, and a command line is readable by every local
//! user (`ps`), so they go into a file only the user reads (x2goclient's way), and the daemon
//! runs `nxproxy -S nx/nx,options=<file>:<display>` ([`nxproxy_options_arg`]) with the
//! environment of [`NXPROXY_ENV_NX_CLIENT`] and
//! `NX_ROOT`: `NX_CLIENT=/bin/true` keeps nxproxy from launching its own dialog program, and
//! `NX_ROOT=<dir>` (python-x2go: the sessions root, `~/.x2go`) is where nxproxy keeps its
//! cache and per-session files. Its stdout and stderr go to the session log.

use std::path::Path;

use super::list::XCookie;
use super::validate::InvalidArgument;

/// Value for `NX_CLIENT` in nxproxy's environment.
pub const NXPROXY_ENV_NX_CLIENT: &str = "/bin/true";

/// A path nxproxy can take in its options: valid UTF-8 without control characters, `,`, `=` or
/// `:`, because nxproxy splits the string on those (options on `,`, name from value on `=`,
/// display after the last `:`) and would silently read a different option set; such a path is
/// refused, not escaped (nxproxy has no escaping).
fn nx_path<'a>(what: &'static str, path: &'a Path) -> Result<&'a str, InvalidArgument> {
    let lossy = path.to_string_lossy();
    let err = |reason| Err(InvalidArgument::new(what, &lossy, reason));
    let Some(s) = path.to_str() else {
        return err("not valid UTF-8");
    };
    if s.is_empty() {
        return err("empty");
    }
    if s.chars()
        .any(|c| c.is_control() || matches!(c, ',' | '=' | ':'))
    {
        return err("contains ',', '=', ':' or a control character");
    }
    Ok(s)
}

/// Builds the content of nxproxy's options file:
/// `nx/nx,retry=5,composite=1,connect=127.0.0.1,clipboard=1,cookie=<c>,port=<p>,errors=<file>:<display>`.
///
/// `clipboard=1` is fixed because the server-side `clipboard=` option enforces the mode. The
/// errors path is checked as [`nx_path`] says. `local_port` must not be 0.
pub fn nxproxy_options(
    cookie: &XCookie,
    local_port: u16,
    errors_file: &Path,
    display: u32,
) -> Result<String, InvalidArgument> {
    let path = nx_path("nxproxy errors path", errors_file)?;
    if local_port == 0 {
        return Err(InvalidArgument::new(
            "nxproxy port",
            "0",
            "expected 1 to 65535",
        ));
    }
    Ok(format!(
        "nx/nx,retry=5,composite=1,connect=127.0.0.1,clipboard=1,cookie={},port={local_port},errors={path}:{display}",
        cookie.expose()
    ))
}

/// nxproxy's `-S` argument that points it at its options file: `nx/nx,options=<file>:<display>`
/// (the file's path checked as [`nx_path`] says).
pub fn nxproxy_options_arg(options_file: &Path, display: u32) -> Result<String, InvalidArgument> {
    let path = nx_path("nxproxy options path", options_file)?;
    Ok(format!("nx/nx,options={path}:{display}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const COOKIE: &str = "8f1c2d3e4b5a69788796a5b4c3d2e1f0";

    fn cookie() -> XCookie {
        XCookie::parse(COOKIE).unwrap()
    }

    #[test]
    fn doc_example() {
        let arg = nxproxy_options(
            &cookie(),
            33456,
            Path::new("/home/bob/.x2go/S-alice-50-1700000000_stDXFCE_dp24/session.err"),
            50,
        )
        .unwrap();
        assert_eq!(
            arg,
            "nx/nx,retry=5,composite=1,connect=127.0.0.1,clipboard=1,cookie=8f1c2d3e4b5a69788796a5b4c3d2e1f0,port=33456,errors=/home/bob/.x2go/S-alice-50-1700000000_stDXFCE_dp24/session.err:50"
        );
    }

    #[test]
    fn the_argument_names_only_the_file() {
        let arg = nxproxy_options_arg(Path::new("/home/bob/.x2go/S-x/options"), 50).unwrap();
        assert_eq!(arg, "nx/nx,options=/home/bob/.x2go/S-x/options:50");
        assert!(!arg.contains(COOKIE));
        assert!(nxproxy_options_arg(Path::new("/a,b"), 50).is_err());
    }

    #[test]
    fn refusals() {
        for bad in ["", "/a,b", "/a:b", "/a=b", "/a\nb", "/a\0b"] {
            let e = nxproxy_options(&cookie(), 1, Path::new(bad), 50).unwrap_err();
            assert!(!e.to_string().contains(COOKIE));
        }
        assert!(nxproxy_options(&cookie(), 0, Path::new("/x"), 50).is_err());
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let p = std::ffi::OsStr::from_bytes(b"/a\xffb");
            assert!(nxproxy_options(&cookie(), 1, Path::new(p), 50).is_err());
        }
    }

    proptest! {
        #[test]
        fn accepted_paths_split_back(path in "\\PC{0,60}", port in 1u16.., display in 0u32..100_000) {
            if let Ok(arg) = nxproxy_options(&cookie(), port, Path::new(&path), display) {
                let (opts, disp) = arg.rsplit_once(':').unwrap();
                prop_assert_eq!(disp, display.to_string());
                let errors = opts.split(',').find_map(|o| o.strip_prefix("errors=")).unwrap();
                prop_assert_eq!(errors, path.as_str());
                prop_assert_eq!(opts.split(',').count(), 8);
            }
        }
    }
}
