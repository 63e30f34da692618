//! Loading and atomically saving `profiles.toml`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::settings::ProfileSettings;

/// Errors reading or writing the profile file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file exists but is not valid; nothing is reset, the daemon refuses to start.
    #[error("{path}: line {line}, column {column}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What is wrong there.
        message: String,
    },
    /// A profile holds a value out of range; nothing is reset, the daemon refuses to start.
    #[error("{path}: profile {profile:?}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The profile.
        profile: String,
        /// What is wrong.
        message: String,
    },
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The profiles could not be serialised (should not happen).
    #[error("cannot serialise profiles: {0}")]
    Serialize(#[from] toml::ser::Error),
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFormat {
    #[serde(default)]
    profile: BTreeMap<String, ProfileSettings>,
}

/// The profile file of one user.
#[derive(Debug, Clone)]
pub struct ProfileStore {
    path: PathBuf,
}

impl ProfileStore {
    /// A store backed by `path` (usually `$XDG_CONFIG_HOME/x2god/profiles.toml`).
    pub fn new(path: PathBuf) -> ProfileStore {
        ProfileStore { path }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads every profile; a missing file means no profiles.
    pub fn load(&self) -> Result<BTreeMap<String, ProfileSettings>, StoreError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(source) => {
                return Err(StoreError::Io {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let parsed: FileFormat = toml::from_str(&text).map_err(|e| {
            let offset = e.span().map(|s| s.start).unwrap_or(0);
            let (line, column) = line_column(&text, offset);
            StoreError::Parse {
                path: self.path.clone(),
                line,
                column,
                message: e.message().to_owned(),
            }
        })?;
        for (name, p) in &parsed.profile {
            p.check_ranges().map_err(|message| StoreError::Invalid {
                path: self.path.clone(),
                profile: name.clone(),
                message,
            })?;
        }
        Ok(parsed.profile)
    }

    /// Writes every profile: to a temporary file in the same directory, then renamed over the
    /// old one, so a crash leaves either the old or the new file, never half of one.
    pub fn save(&self, profiles: &BTreeMap<String, ProfileSettings>) -> Result<(), StoreError> {
        let io = |source| StoreError::Io {
            path: self.path.clone(),
            source,
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let body = toml::to_string_pretty(&FileFormat {
            profile: profiles.clone(),
        })?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".profiles.toml.")
            .tempfile_in(dir)
            .map_err(io)?;
        tmp.write_all(b"# x2god profiles. Written by x2god; edit while it is stopped.\n")
            .map_err(io)?;
        tmp.write_all(body.as_bytes()).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(&self.path).map_err(|e| io(e.error))?;
        Ok(())
    }
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_out_of_range_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = ProfileStore::new(dir.path().join("profiles.toml"));
        for (line, key) in [
            ("keepalive_interval = 1e20", "keepalive_interval"),
            ("keepalive_interval = -1.0", "keepalive_interval"),
            ("timeout = nan", "timeout"),
            ("keepalive_count = 0", "keepalive_count"),
        ] {
            std::fs::write(
                store.path(),
                format!("[profile.lab]\nhostname = \"h\"\n{line}\n"),
            )
            .unwrap();
            let e = store.load().unwrap_err();
            assert!(matches!(e, StoreError::Invalid { .. }), "{line}: {e}");
            let msg = e.to_string();
            assert!(msg.contains(key) && msg.contains("\"lab\""), "{msg}");
        }
        std::fs::write(
            store.path(),
            "[profile.lab]\nhostname = \"h\"\nkeepalive_interval = 3600.0\n\n[profile.lab.session]\npoll_interval = 0.5\n",
        )
        .unwrap();
        assert_eq!(store.load().unwrap().len(), 1);
        assert!(crate::profiles::duration_setting(1e20).is_none());
    }

    #[test]
    fn round_trip_and_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = ProfileStore::new(dir.path().join("sub/profiles.toml"));
        assert!(store.load().unwrap().is_empty());
        let mut m = BTreeMap::new();
        let mut s = ProfileSettings::new("srv.example");
        s.port = 2222;
        s.key_filename = vec!["/k/id".into()];
        m.insert("Büro \"1\"".to_owned(), s);
        store.save(&m).unwrap();
        assert_eq!(store.load().unwrap(), m);
        // No temporary files left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path().join("sub")).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn malformed_file_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profiles.toml");
        std::fs::write(&path, "[profile.a]\nhostname = \"h\"\nport = \"x\"\n").unwrap();
        let err = ProfileStore::new(path.clone()).load().unwrap_err();
        match err {
            StoreError::Parse { line, .. } => assert_eq!(line, 3),
            other => panic!("{other}"),
        }
        std::fs::write(&path, "[profile.a]\nhostname = \"h\"\nbogus = 1\n").unwrap();
        let msg = ProfileStore::new(path).load().unwrap_err().to_string();
        assert!(msg.contains("line 3"), "{msg}");
    }
}
