//! What happens to a print job: python-x2go's print actions, with its names, arguments and
//! defaults (`x2go/defaults.py`, `printactions.py`), typed.
//!
//! The action and every command in it come from the caller (the profile). Nothing the server
//! writes chooses a program or an argument other than the file we made ourselves.

use std::path::{Path, PathBuf};

use super::error::Error;

/// python-x2go's `DEFAULT_PDFVIEW_CMD`.
pub const DEFAULT_PDFVIEW_CMD: &str = "xdg-open";
/// python-x2go's `DEFAULT_PDFSAVE_LOCATION`, relative to the home directory.
pub const DEFAULT_PDFSAVE_LOCATION: &str = "PDF";
/// python-x2go's `DEFAULT_PRINTCMD_CMD`.
pub const DEFAULT_PRINTCMD_CMD: &str = "lpr";

/// A command line from a profile, split into words as a POSIX shell would split them (quotes
/// and backslashes work; `$`, globs, `;` and redirections are plain characters: no shell ever
/// runs it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine(Vec<String>);

impl CommandLine {
    /// Splits `line`; refuses unbalanced quotes and empty lines.
    pub fn parse(line: &str) -> Result<CommandLine, Error> {
        match shlex::split(line) {
            Some(words) if !words.is_empty() && !words[0].is_empty() => Ok(CommandLine(words)),
            Some(_) => Err(Error::Setting("empty command line".into())),
            None => Err(Error::Setting(format!(
                "command line {line:?} does not split into words (unbalanced quotes?)"
            ))),
        }
    }

    /// The words, program first.
    pub fn words(&self) -> &[String] {
        &self.0
    }
}

/// What to do with each print job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrintAction {
    /// `PDFVIEW`: open the PDF with `pdfview_cmd`, the file appended as its last argument.
    PdfView {
        /// The viewer's command line.
        pdfview_cmd: CommandLine,
    },
    /// `PDFSAVE`: save the PDF into `save_to_folder` (created when missing).
    PdfSave {
        /// The folder.
        save_to_folder: PathBuf,
    },
    /// `PRINT`: print on a local CUPS queue (`lp -d <printer> -t <title> <file>`).
    Print {
        /// The queue; `None` for the default printer.
        printer: Option<String>,
    },
    /// `PRINTCMD`: run `print_cmd` with the file appended as its last argument.
    PrintCmd {
        /// The command line.
        print_cmd: CommandLine,
    },
    /// `DIALOG`: run nothing; hand the job to the caller (an applet offers open, save, print).
    Dialog,
}

/// A print action's name, without its arguments: what a [`super::PrintJob`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrintActionKind {
    /// `PDFVIEW`.
    PdfView,
    /// `PDFSAVE`.
    PdfSave,
    /// `PRINT`.
    Print,
    /// `PRINTCMD`.
    PrintCmd,
    /// `DIALOG`.
    Dialog,
}

impl PrintActionKind {
    /// Every kind, in python-x2go's order.
    pub const ALL: [PrintActionKind; 5] = [
        PrintActionKind::PdfView,
        PrintActionKind::PdfSave,
        PrintActionKind::Print,
        PrintActionKind::PrintCmd,
        PrintActionKind::Dialog,
    ];

    /// python-x2go's name: `PDFVIEW`, `PDFSAVE`, `PRINT`, `PRINTCMD`, `DIALOG`.
    pub fn name(self) -> &'static str {
        match self {
            PrintActionKind::PdfView => "PDFVIEW",
            PrintActionKind::PdfSave => "PDFSAVE",
            PrintActionKind::Print => "PRINT",
            PrintActionKind::PrintCmd => "PRINTCMD",
            PrintActionKind::Dialog => "DIALOG",
        }
    }

    /// The kind named `name` (case-insensitive).
    pub fn parse(name: &str) -> Option<PrintActionKind> {
        Self::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name.trim()))
    }
}

/// A print action's arguments as a profile holds them, by python-x2go's names; `None` or empty
/// means the default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrintArgs {
    /// `PDFVIEW`'s viewer command line (default [`DEFAULT_PDFVIEW_CMD`]).
    pub pdfview_cmd: Option<String>,
    /// `PDFSAVE`'s folder (default `~/PDF`; see [`save_folder`]).
    pub save_to_folder: Option<String>,
    /// `PRINT`'s CUPS queue (default: the default printer).
    pub printer: Option<String>,
    /// `PRINTCMD`'s command line (default [`DEFAULT_PRINTCMD_CMD`]).
    pub print_cmd: Option<String>,
}

/// python-x2go's rule for `save_to_folder`: an absolute path as is, `~` and `~/…` below the
/// home directory, anything else relative to the home directory.
pub fn save_folder(folder: &str, home: &Path) -> PathBuf {
    let folder = folder.trim();
    if folder == "~" {
        home.to_owned()
    } else if let Some(rest) = folder.strip_prefix("~/") {
        home.join(rest)
    } else if Path::new(folder).is_absolute() {
        PathBuf::from(folder)
    } else {
        home.join(folder)
    }
}

/// A setting's value, `None` when absent or blank.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl PrintAction {
    /// The action named `name` (python-x2go's names, case-insensitive) with `args`, relative
    /// paths resolved against `home`.
    pub fn from_settings(name: &str, args: &PrintArgs, home: &Path) -> Result<PrintAction, Error> {
        let kind = PrintActionKind::parse(name).ok_or_else(|| {
            Error::Setting(format!(
                "unknown print action {name:?} (one of PDFVIEW, PDFSAVE, PRINT, PRINTCMD, DIALOG)"
            ))
        })?;
        Ok(match kind {
            PrintActionKind::PdfView => PrintAction::PdfView {
                pdfview_cmd: CommandLine::parse(
                    given(&args.pdfview_cmd).unwrap_or(DEFAULT_PDFVIEW_CMD),
                )?,
            },
            PrintActionKind::PdfSave => PrintAction::PdfSave {
                save_to_folder: save_folder(
                    given(&args.save_to_folder).unwrap_or(DEFAULT_PDFSAVE_LOCATION),
                    home,
                ),
            },
            PrintActionKind::Print => PrintAction::Print {
                printer: given(&args.printer).map(str::to_owned),
            },
            PrintActionKind::PrintCmd => PrintAction::PrintCmd {
                print_cmd: CommandLine::parse(
                    given(&args.print_cmd).unwrap_or(DEFAULT_PRINTCMD_CMD),
                )?,
            },
            PrintActionKind::Dialog => PrintAction::Dialog,
        })
    }

    /// The action's kind.
    pub fn kind(&self) -> PrintActionKind {
        match self {
            PrintAction::PdfView { .. } => PrintActionKind::PdfView,
            PrintAction::PdfSave { .. } => PrintActionKind::PdfSave,
            PrintAction::Print { .. } => PrintActionKind::Print,
            PrintAction::PrintCmd { .. } => PrintActionKind::PrintCmd,
            PrintAction::Dialog => PrintActionKind::Dialog,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(a: &PrintAction) -> Vec<String> {
        match a {
            PrintAction::PdfView { pdfview_cmd: c } | PrintAction::PrintCmd { print_cmd: c } => {
                c.words().to_vec()
            }
            _ => panic!("no command in {a:?}"),
        }
    }

    #[test]
    fn defaults_are_python_x2go_s() {
        let home = Path::new("/home/u");
        let none = PrintArgs::default();
        let a = |name| PrintAction::from_settings(name, &none, home).unwrap();
        assert_eq!(words(&a("PDFVIEW")), ["xdg-open"]);
        assert_eq!(words(&a("printcmd")), ["lpr"]);
        assert_eq!(
            a("PDFSAVE"),
            PrintAction::PdfSave {
                save_to_folder: "/home/u/PDF".into()
            }
        );
        assert_eq!(a("PRINT"), PrintAction::Print { printer: None });
        assert_eq!(a(" Dialog "), PrintAction::Dialog);
        let blank = PrintArgs {
            printer: Some("  ".into()),
            ..PrintArgs::default()
        };
        assert_eq!(
            PrintAction::from_settings("PRINT", &blank, home).unwrap(),
            PrintAction::Print { printer: None }
        );
        for k in PrintActionKind::ALL {
            assert_eq!(PrintActionKind::parse(k.name()), Some(k));
            assert_eq!(a(k.name()).kind(), k);
        }
    }

    #[test]
    fn settings_are_checked() {
        let home = Path::new("/home/u");
        assert!(matches!(
            PrintAction::from_settings("FAX", &PrintArgs::default(), home),
            Err(Error::Setting(_))
        ));
        let bad = PrintArgs {
            print_cmd: Some("lpr -o 'unbalanced".into()),
            ..PrintArgs::default()
        };
        assert!(PrintAction::from_settings("PRINTCMD", &bad, home).is_err());
        let args = PrintArgs {
            pdfview_cmd: Some(r#"okular --unique "/opt/my tools/x" $HOME;rm"#.into()),
            ..PrintArgs::default()
        };
        assert_eq!(
            words(&PrintAction::from_settings("PDFVIEW", &args, home).unwrap()),
            ["okular", "--unique", "/opt/my tools/x", "$HOME;rm"]
        );
        assert!(CommandLine::parse("").is_err());
        assert!(CommandLine::parse("''").is_err());
    }

    #[test]
    fn save_folders_resolve_like_python_x2go() {
        let home = Path::new("/home/u");
        assert_eq!(save_folder("PDF", home), Path::new("/home/u/PDF"));
        assert_eq!(
            save_folder("Docs/Print", home),
            Path::new("/home/u/Docs/Print")
        );
        assert_eq!(save_folder("~/x", home), Path::new("/home/u/x"));
        assert_eq!(save_folder("~", home), Path::new("/home/u"));
        assert_eq!(save_folder("/srv/pdf", home), Path::new("/srv/pdf"));
    }
}
