//! The man pages, generated from the clap definition: `x2goctl(1)` with the exit codes, and one
//! `x2goctl-COMMAND(1)` page per command.

use std::io::Write;
use std::path::Path;

use crate::exit;

/// Text for roff: backslashes escaped, hyphens as minus signs (so `--json` copies as typed), and
/// no line starting with a control character.
fn roff_text(s: &str) -> String {
    let escaped = s.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

/// How an argument is written in the reference: `\-\-key=FILE`, `\-i`, `PROFILE`.
fn arg_label(a: &clap::Arg) -> String {
    let value = a
        .get_value_names()
        .and_then(|v| v.first())
        .map(|v| v.to_string())
        .unwrap_or_else(|| a.get_id().as_str().to_uppercase());
    let takes_value = a.get_num_args().is_some_and(|n| n.takes_values());
    if a.is_positional() {
        return value;
    }
    let mut names = Vec::new();
    if let Some(s) = a.get_short() {
        names.push(format!("-{s}"));
    }
    if let Some(l) = a.get_long() {
        names.push(format!("--{l}"));
    }
    let mut label = names.join(", ");
    match a.get_num_args() {
        Some(n) if n.takes_values() && n.min_values() == 0 => {
            label.push_str(&format!("[={value}]"))
        }
        _ if takes_value => label.push_str(&format!(" {value}")),
        _ => {}
    }
    label
}

/// A COMMANDS section with every command's synopsis, description and arguments, so that the
/// one page is a complete reference (the per-command pages of `--dir` say the same).
fn commands_section(cmd: &clap::Command, w: &mut dyn Write) -> std::io::Result<()> {
    fn walk(cmd: &clap::Command, prefix: &str, w: &mut dyn Write) -> std::io::Result<()> {
        for sub in cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        {
            let name = format!("{prefix} {}", sub.get_name());
            if sub.has_subcommands() {
                walk(sub, &name, w)?;
                continue;
            }
            writeln!(w, ".SS \"{}\"", roff_text(&name))?;
            let args: Vec<&clap::Arg> = sub
                .get_arguments()
                .filter(|a| !a.is_hide_set() && !a.is_global_set())
                .filter(|a| !matches!(a.get_id().as_str(), "help" | "version"))
                .collect();
            let synopsis: Vec<String> = args
                .iter()
                .map(|a| {
                    let l = arg_label(a);
                    if a.is_required_set() {
                        l
                    } else {
                        format!("[{l}]")
                    }
                })
                .collect();
            writeln!(
                w,
                ".B {}",
                roff_text(&format!("{name} {}", synopsis.join(" ")))
            )?;
            writeln!(w, ".br")?;
            if let Some(about) = sub.get_long_about().or_else(|| sub.get_about()) {
                write!(w, "{}", roff_block(&about.to_string()))?;
            }
            for a in args {
                writeln!(w, ".TP\n.B {}", roff_text(&arg_label(a)))?;
                if let Some(h) = a.get_long_help().or_else(|| a.get_help()) {
                    writeln!(w, "{}", roff_text(&h.to_string()))?;
                }
            }
        }
        Ok(())
    }
    writeln!(w, ".SH COMMANDS")?;
    walk(cmd, "x2goctl", w)
}

/// Multi-line help text: blank lines start paragraphs, indented lines (examples) stay as typed.
fn roff_block(text: &str) -> String {
    let mut out = String::new();
    let mut literal = false;
    for line in text.lines() {
        let indented = line.starts_with(' ');
        if indented != literal {
            out.push_str(if indented { ".nf\n" } else { ".fi\n" });
            literal = indented;
        }
        if line.trim().is_empty() {
            out.push_str(".PP\n");
        } else {
            out.push_str(&roff_text(line));
            out.push('\n');
        }
    }
    if literal {
        out.push_str(".fi\n");
    }
    out
}

fn extra_sections(w: &mut dyn Write) -> std::io::Result<()> {
    writeln!(w, ".SH \"EXIT STATUS\"")?;
    for (code, what) in exit::TABLE {
        writeln!(w, ".TP\n.B {}\n{}", *code as u8, roff_text(what))?;
    }
    writeln!(w, ".SH ENVIRONMENT")?;
    writeln!(
        w,
        ".TP\n.B DBUS_SESSION_BUS_ADDRESS\n{}",
        roff_text("The session bus on which x2god (org.x2go.Control1) is reached.")
    )?;
    writeln!(w, ".SH EXAMPLES")?;
    let examples = [
        "x2goctl profile add office --host x2go.example.org --user alice --agent",
        "x2goctl connect office",
        "x2goctl start office --cmd XFCE --geometry 1280x800",
        "x2goctl sessions office --json",
        "x2goctl suspend office NAME",
        "printf '%s\\n' \"$PW\" | x2goctl connect office --password-stdin",
        "x2goctl watch office",
    ];
    writeln!(w, ".nf")?;
    for e in examples {
        writeln!(w, "{}", roff_text(e))?;
    }
    writeln!(w, ".fi")?;
    writeln!(w, ".SH \"SEE ALSO\"\n.BR x2god (1),\n.BR busctl (1)")?;
    Ok(())
}

/// Writes the main page.
pub fn render_main(cmd: clap::Command, w: &mut dyn Write) -> std::io::Result<()> {
    // The exit codes get a proper EXIT STATUS section instead of clap_mangen's EXTRA one.
    let cmd = cmd.after_long_help(None::<&str>).after_help(None::<&str>);
    let cmd_for_reference = cmd.clone();
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut page)?;
    let page = String::from_utf8_lossy(&page);
    let mut extra = Vec::new();
    let mut built = cmd_for_reference;
    built.build();
    commands_section(&built, &mut extra)?;
    extra_sections(&mut extra)?;
    let extra = String::from_utf8_lossy(&extra);
    match page.find(".SH VERSION") {
        Some(at) => write!(w, "{}{extra}{}", &page[..at], &page[at..]),
        None => write!(w, "{page}{extra}"),
    }
}

/// Writes `x2goctl.1` and a page per (sub)command into `dir`; returns the files written.
pub fn write_all(cmd: clap::Command, dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut cmd = cmd.disable_help_subcommand(true);
    // Building fills in each subcommand's display name (`x2goctl-start`), which names its page.
    cmd.build();
    let mut written = Vec::new();
    fn pages(
        cmd: &clap::Command,
        dir: &Path,
        written: &mut Vec<std::path::PathBuf>,
    ) -> std::io::Result<()> {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let page = clap_mangen::Man::new(sub.clone());
            written.push(page.generate_to(dir)?);
            pages(sub, dir, written)?;
        }
        Ok(())
    }
    pages(&cmd, dir, &mut written)?;
    let main = dir.join("x2goctl.1");
    let mut f = std::fs::File::create(&main)?;
    render_main(cmd, &mut f)?;
    f.flush()?;
    written.push(main);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_page_has_exit_codes_and_commands() {
        let mut out = Vec::new();
        render_main(crate::cli::command(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(".TH x2goctl 1"), "{}", &text[..200]);
        assert!(
            text.contains(".SS \"x2goctl profile add\""),
            "no command reference"
        );
        assert!(text.contains("\\-\\-password\\-stdin"));
        assert!(text.contains(".SH \"EXIT STATUS\""));
        assert!(text.contains("authentication failed"));
        assert!(text.contains("trust\\-host\\-key"));
        assert!(!text.contains(".SH EXTRA"), "exit codes twice");
    }

    #[test]
    fn pages_per_command() {
        let dir = tempdir();
        let files = write_all(crate::cli::command(), &dir).unwrap();
        let names: Vec<String> = files
            .iter()
            .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
            .collect();
        for want in ["x2goctl.1", "x2goctl-connect.1", "x2goctl-profile-add.1"] {
            assert!(names.contains(&want.to_owned()), "{want} not in {names:?}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempdir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("x2goctl-man-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }
}
