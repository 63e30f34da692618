//! Human-readable, safe and unique names for files leaving a spool folder.
//!
//! A print job's title (or a MIME box file's name) comes from the server and may hold slashes,
//! `..`, control characters, a leading dash or dot, or kilobytes of text. It becomes a file name
//! only after [`readable_stem`]; the file is then written under a temporary name and renamed
//! into place without replacing anything ([`Staged::persist`]), trying `Title.pdf`,
//! `Title (2).pdf`, `Title (3).pdf`, …: a second job with the same title never overwrites the
//! first, not even one of another program that happens to use the same name, and a half-written
//! file never carries the final name.

use std::io;
use std::path::{Path, PathBuf};

use super::folder::{Entry, Refusal};

/// The longest stem we make, in characters (file systems allow 255 bytes; a suffix and an
/// extension must fit after it).
const MAX_STEM_CHARS: usize = 80;

/// The longest extension we keep, in characters.
const MAX_EXTENSION_CHARS: usize = 16;

/// How many numbered names are tried before a random one.
const NUMBERED_TRIES: u32 = 999;

/// `text` made safe as a file name stem: letters, digits, blanks and `-_.,()+` are kept (any
/// other character becomes `_`, runs of blanks and of `_` shrink to one), no leading dot, dash
/// or blank (no hidden files, nothing that reads as an option), at most [`MAX_STEM_CHARS`].
/// `fallback` when nothing is left.
pub(crate) fn readable_stem(text: &str, fallback: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let c = if c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ',' | '(' | ')' | '+') {
            c
        } else if c.is_whitespace() {
            ' '
        } else {
            '_'
        };
        if (c == ' ' || c == '_') && out.ends_with(c) {
            continue;
        }
        if out.is_empty() && matches!(c, ' ' | '.' | '-' | '_') {
            continue;
        }
        out.push(c);
        if out.chars().count() >= MAX_STEM_CHARS {
            break;
        }
    }
    let out = out.trim_end_matches([' ', '.', '_']);
    if out.is_empty() {
        fallback.to_owned()
    } else {
        out.to_owned()
    }
}

/// A print job's title as a stem: [`readable_stem`] without a trailing `.pdf` (printing
/// `report.pdf` saves `report.pdf`, not `report.pdf.pdf`).
pub(crate) fn title_stem(title: &str) -> String {
    let t = title.trim();
    let t = match t.len().checked_sub(4) {
        Some(cut) if t.is_char_boundary(cut) && t[cut..].eq_ignore_ascii_case(".pdf") => &t[..cut],
        _ => t,
    };
    readable_stem(t, "print job")
}

/// A file name the server chose, split into a safe stem and a safe extension (letters and
/// digits only; empty when there is none).
pub(crate) fn stem_and_extension(name: &str) -> (String, String) {
    let (stem, ext) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.trim_start_matches('.').is_empty() => (stem, ext),
        _ => (name, ""),
    };
    let ext: String = ext
        .chars()
        .filter(|c| c.is_alphanumeric())
        .take(MAX_EXTENSION_CHARS)
        .collect();
    (readable_stem(stem, "file"), ext)
}

/// A complete copy of an entry in its target folder, under a temporary hidden name until
/// [`Staged::persist`] names it (dropped unnamed, it is removed).
pub(crate) struct Staged {
    tmp: tempfile::NamedTempFile,
}

/// Why [`stage`] failed: the target folder, or the entry being copied.
pub(crate) enum StageError {
    /// The target folder could not take the file.
    Target(io::Error),
    /// The entry was refused while being copied.
    Source(Refusal),
}

/// Copies `entry` into a new private (0600) temporary file in `dir`, creating `dir` if needed.
pub(crate) fn stage(dir: &Path, entry: &mut Entry) -> Result<Staged, StageError> {
    std::fs::create_dir_all(dir).map_err(StageError::Target)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".x2god-")
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(StageError::Target)?;
    entry
        .copy_to(tmp.as_file_mut())
        .map_err(StageError::Source)?;
    Ok(Staged { tmp })
}

impl Staged {
    /// Gives the file its final name `<stem>[ (n)][.<ext>]` in its folder, never replacing an
    /// existing file.
    pub(crate) fn persist(self, stem: &str, ext: &str) -> io::Result<PathBuf> {
        let dir = self
            .tmp
            .path()
            .parent()
            .map(Path::to_owned)
            .unwrap_or_default();
        let dot = if ext.is_empty() { "" } else { "." };
        let mut tmp = self.tmp;
        for n in 1..=NUMBERED_TRIES + 1 {
            let name = match n {
                1 => format!("{stem}{dot}{ext}"),
                n if n <= NUMBERED_TRIES => format!("{stem} ({n}){dot}{ext}"),
                _ => format!("{stem} ({:08x}){dot}{ext}", rand::random::<u32>()),
            };
            let target = dir.join(name);
            match tmp.persist_noclobber(&target) {
                Ok(_file) => return Ok(target),
                Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => tmp = e.file,
                Err(e) => return Err(e.error),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "no free file name",
        ))
    }

    /// The staged file, for tests.
    #[cfg(test)]
    pub(crate) fn file(&self) -> &std::fs::File {
        self.tmp.as_file()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_become_safe_stems() {
        let cases = [
            ("Quarterly Report: Q3/2026", "Quarterly Report_ Q3_2026"),
            ("../../etc/passwd", "etc_passwd"),
            ("/absolute/path", "absolute_path"),
            ("-rf --no-preserve-root", "rf --no-preserve-root"),
            (".hidden", "hidden"),
            ("..", "print job"),
            ("", "print job"),
            ("   ", "print job"),
            ("a\nb\tc\x07d\u{202e}e", "a b c_d_e"),
            ("Überweisung für März", "Überweisung für März"),
            ("report.pdf", "report"),
            ("report.PDF", "report"),
            ("trailing dots...", "trailing dots"),
            ("a   b", "a b"),
            ("a//b", "a_b"),
            ("日本語の文書", "日本語の文書"),
        ];
        for (title, want) in cases {
            assert_eq!(title_stem(title), want, "{title:?}");
        }
        let long = "x".repeat(10_000);
        assert_eq!(title_stem(&long).chars().count(), MAX_STEM_CHARS);
        let wide = "é".repeat(10_000);
        assert!(title_stem(&wide).len() <= 2 * MAX_STEM_CHARS);
    }

    #[test]
    fn file_names_keep_a_safe_extension() {
        assert_eq!(
            stem_and_extension("Report 2026.ODT"),
            ("Report 2026".into(), "ODT".into())
        );
        assert_eq!(
            stem_and_extension("README"),
            ("README".into(), String::new())
        );
        assert_eq!(
            stem_and_extension(".bashrc"),
            ("bashrc".into(), String::new())
        );
        assert_eq!(
            stem_and_extension("a.tar.gz"),
            ("a.tar".into(), "gz".into())
        );
        assert_eq!(stem_and_extension("x.p/d\0f"), ("x".into(), "pdf".into()));
    }

    #[test]
    fn persisting_never_replaces_a_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Doc.pdf"), b"first").unwrap();
        let mut names = Vec::new();
        for i in 0..3 {
            let src = dir.path().join(format!("src{i}"));
            std::fs::write(&src, format!("job {i}")).unwrap();
            let folder = super::super::folder::Folder::open(dir.path()).unwrap();
            let mut entry = folder
                .open_entry(std::ffi::OsStr::new(&format!("src{i}")), 100)
                .unwrap();
            let staged = stage(dir.path(), &mut entry).ok().unwrap();
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                staged.file().metadata().unwrap().permissions().mode() & 0o777,
                0o600
            );
            names.push(staged.persist("Doc", "pdf").unwrap());
        }
        let file_names: Vec<_> = names
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
            .collect();
        assert_eq!(file_names, ["Doc (2).pdf", "Doc (3).pdf", "Doc (4).pdf"]);
        assert_eq!(std::fs::read(dir.path().join("Doc.pdf")).unwrap(), b"first");
        assert_eq!(std::fs::read(&names[2]).unwrap(), b"job 2");
        let leftovers = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".part")
            })
            .count();
        assert_eq!(leftovers, 0);
    }
}
