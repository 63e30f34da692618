//! The profiles of x2goclient and python-x2go (`~/.x2goclient/sessions`), offered read-only
//! beside x2god's own. Problems with that file are logged, never fatal: it belongs to another
//! program.

use tracing::{info, warn};

use crate::config::Paths;
use crate::profiles::{validate_profile_name, x2goclient};

/// Reads the x2goclient sessions file, if any.
pub(crate) fn read_x2goclient(paths: &Paths) -> Vec<x2goclient::ImportedProfile> {
    let Some(home) = paths.user_ssh_dir.parent() else {
        return Vec::new();
    };
    let file = x2goclient::default_path(home);
    let text = match std::fs::read(&file) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            warn!(file = %file.display(), error = %e, "cannot read the x2goclient sessions file");
            return Vec::new();
        }
    };
    let import = x2goclient::parse(&text);
    for w in &import.warnings {
        warn!(file = %file.display(), "{w}");
    }
    for s in &import.skipped {
        info!(file = %file.display(), id = %s.id, reason = %s.reason, "x2goclient profile skipped");
    }
    info!(file = %file.display(), count = import.profiles.len(), "x2goclient profiles read");
    import.profiles
}

/// The name an imported profile gets: its own, or with the profile id appended when that is
/// taken (`taken`) or unusable; `None` when neither works.
pub(crate) fn import_name(
    p: &x2goclient::ImportedProfile,
    taken: impl Fn(&str) -> bool,
) -> Option<String> {
    let usable = |n: &str| !taken(n) && validate_profile_name(n).is_ok();
    if usable(&p.name) {
        return Some(p.name.clone());
    }
    // The profile id keeps x2goclient profiles apart from ours and each other.
    let with_id = format!("{} [{}]", p.name, p.id);
    usable(&with_id).then_some(with_id)
}
