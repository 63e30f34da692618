//! Turning session settings into validated plans for Start and Resume. Everything is checked
//! here, before anything runs on the server or locally.

use std::path::PathBuf;
use std::time::Duration;

use super::error::Error;
use super::local::LocalSpec;
use super::sound::SoundPlan;
use super::spool::{self, MimeBoxAction, MimeBoxSettings, PrintAction, PrintArgs};
use crate::profiles::SessionSettings;
use crate::x2go::keyboard::SessionKeyboard;
use crate::x2go::session_options::{
    CacheType, ColorDepth, Pack, ResumeArgs, SessionCommand, SessionType, StartAgentArgs,
};
use crate::x2go::validate::{Clipboard, Dpi, Geometry, KeyboardSetting, Link};

/// The command python-x2go starts when a profile names none.
const DEFAULT_COMMAND: &str = "TERMINAL";

/// A validated `Start`.
#[derive(Debug, Clone)]
pub struct StartPlan {
    /// The `x2gostartagent` arguments (they also carry the command for `x2goruncommand`).
    pub agent: StartAgentArgs,
    /// The local side.
    pub local: LocalSpec,
    /// Folders, printing and the MIME box.
    pub features: Features,
    /// Sound.
    pub sound: SoundPlan,
    /// The keyboard `setxkbmap` sets in the session once it runs.
    pub keyboard: Option<SessionKeyboard>,
    /// The title of the session's local window, when one is to be set.
    pub title: Option<String>,
}

/// A validated `Resume`.
#[derive(Debug, Clone)]
pub struct ResumePlan {
    /// The `x2goresume-session` arguments.
    pub args: ResumeArgs,
    /// The local side.
    pub local: LocalSpec,
    /// Folders, printing and the MIME box.
    pub features: Features,
    /// Sound.
    pub sound: SoundPlan,
    /// The keyboard `setxkbmap` sets in the session once it runs again.
    pub keyboard: Option<SessionKeyboard>,
    /// The title of the session's local window, when one is to be set.
    pub title: Option<String>,
}

/// What travels through the session's reverse sshfs besides the picture: the folders shared
/// when the session starts or resumes, print jobs and the MIME box.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Features {
    /// Sharing folders is allowed at all (`allow_share_local_folders`, default true).
    pub allow_sharing: bool,
    /// Folders shared as the session starts or resumes (absolute paths).
    pub folders: Vec<PathBuf>,
    /// On resume, share again what was shared before the suspend.
    pub restore: bool,
    /// Print jobs come here and get this action (`printing`, `print_action`, …).
    pub printing: Option<PrintAction>,
    /// Files the session drops into its MIME box come here (`allow_mimebox`, …).
    pub mimebox: Option<MimeBoxSettings>,
}

impl Features {
    /// Checks the settings' folder options: paths must be absolute (whether they exist is
    /// checked when each is shared: a missing one must not stop the session).
    pub fn new(s: &SessionSettings) -> Result<Features, Error> {
        let allow_sharing = s.allow_share_local_folders.unwrap_or(true);
        if let Some(p) = s.share_local_folders.iter().find(|p| !p.is_absolute()) {
            return Err(Error::InvalidArgument(format!(
                "share_local_folders takes absolute paths, not {:?}",
                p.display()
            )));
        }
        if !allow_sharing && !s.share_local_folders.is_empty() {
            return Err(Error::InvalidArgument(
                "share_local_folders is set while allow_share_local_folders is false".into(),
            ));
        }
        // The actions' folders are the local user's: relative ones and `~` below HOME.
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .filter(|h| h.is_absolute())
            .unwrap_or_else(|| PathBuf::from("/"));
        let setting = |e: spool::Error| Error::InvalidArgument(e.to_string());
        let printing = match s.printing {
            Some(true) => {
                let args = PrintArgs {
                    pdfview_cmd: s.pdfview_cmd.clone(),
                    save_to_folder: s
                        .save_to_folder
                        .as_ref()
                        .map(|p| p.to_string_lossy().into_owned()),
                    printer: s.printer.clone(),
                    print_cmd: s.print_cmd.clone(),
                };
                let name = s.print_action.as_deref().unwrap_or("PDFVIEW");
                Some(PrintAction::from_settings(name, &args, &home).map_err(setting)?)
            }
            _ => None,
        };
        let mimebox = match s.allow_mimebox {
            Some(true) => {
                let folder = s
                    .mimebox_save_to_folder
                    .as_ref()
                    .map(|p| p.to_string_lossy().into_owned());
                let action = MimeBoxAction::from_settings(
                    s.mimebox_action.as_deref().unwrap_or("OPEN"),
                    folder.as_deref(),
                    &home,
                )
                .map_err(setting)?;
                let extensions = s
                    .mimebox_extensions
                    .iter()
                    .flat_map(|e| MimeBoxSettings::parse_extensions(e))
                    .collect();
                Some(MimeBoxSettings { action, extensions })
            }
            _ => None,
        };
        Ok(Features {
            allow_sharing,
            folders: s.share_local_folders.clone(),
            restore: s.restore_shared_local_folders.unwrap_or(false),
            printing,
            mimebox,
        })
    }
}

/// The display-related settings both plans share.
struct Common {
    geometry: Geometry,
    link: Option<Link>,
    pack: Option<Pack>,
    kblayout: Option<KeyboardSetting>,
    kbtype: Option<KeyboardSetting>,
    kbvariant: Option<KeyboardSetting>,
    clipboard: Option<Clipboard>,
    xinerama: bool,
    title: Option<String>,
    local: LocalSpec,
}

impl Common {
    /// Overrides the defaults in a start's or resume's arguments with what was set; returns
    /// the local side and the keyboard to set in the session.
    fn apply(
        self,
        link: &mut Link,
        pack: &mut Pack,
        kblayout: &mut KeyboardSetting,
        kbtype: &mut KeyboardSetting,
        clipboard: &mut Clipboard,
        xinerama: &mut bool,
    ) -> (LocalSpec, Option<SessionKeyboard>) {
        *xinerama = self.xinerama;
        if let Some(v) = self.link {
            *link = v;
        }
        if let Some(v) = self.pack {
            *pack = v;
        }
        if let Some(v) = self.kblayout {
            *kblayout = v;
        }
        if let Some(v) = self.kbtype {
            *kbtype = v;
        }
        if let Some(v) = self.clipboard {
            *clipboard = v;
        }
        let keyboard = SessionKeyboard::new(kbtype, kblayout, self.kbvariant.as_ref());
        (self.local, keyboard)
    }
}

fn common(s: &SessionSettings, display: Option<String>) -> Result<Common, Error> {
    let local = local_spec(s, display)?;
    let geometry = match s.geometry.as_deref() {
        None => Geometry::parse("800x600")?,
        Some("maximize") => maximized(&local),
        Some(g) => Geometry::parse(g)?,
    };
    Ok(Common {
        geometry,
        link: s.link.as_deref().map(Link::parse).transpose()?,
        pack: s.pack.as_deref().map(Pack::parse).transpose()?,
        kblayout: s
            .kblayout
            .as_deref()
            .map(KeyboardSetting::parse)
            .transpose()?,
        kbtype: s
            .kbtype
            .as_deref()
            .map(KeyboardSetting::parse)
            .transpose()?,
        kbvariant: s
            .kbvariant
            .as_deref()
            .map(KeyboardSetting::parse)
            .transpose()?,
        clipboard: s.clipboard.as_deref().map(Clipboard::parse).transpose()?,
        xinerama: s.xinerama.unwrap_or(false),
        title: session_title(s)?,
        local,
    })
}

impl StartPlan {
    /// Validates `s` (the profile's session settings with the caller's options applied).
    pub fn new(s: &SessionSettings, display: Option<String>) -> Result<StartPlan, Error> {
        // A published-applications session runs the menu provider, whatever `cmd` says (as in
        // python-x2go, where a published profile forces the command `PUBLISHED`).
        let published = matches!(
            s.session_type.as_deref(),
            Some("published" | "published_applications")
        );
        let cmd = if published {
            "PUBLISHED"
        } else {
            s.cmd.as_deref().unwrap_or(DEFAULT_COMMAND)
        };
        let command = SessionCommand::parse(cmd)?;
        let implied = command.implied_type();
        let mut agent = StartAgentArgs::new(command);
        if let Some(t) = s.session_type.as_deref() {
            agent.session_type = match (t, implied) {
                ("desktop", _) => SessionType::Desktop,
                ("application" | "rootless", Some(SessionType::Published)) => {
                    SessionType::Published
                }
                ("application" | "rootless", _) => SessionType::Application,
                ("published" | "published_applications", _) => SessionType::Published,
                _ => {
                    return Err(Error::InvalidArgument(format!(
                        "session_type must be desktop, application or published, not {t:?}"
                    )));
                }
            };
        }
        if let Some(dpi) = s.dpi.filter(|_| s.setdpi != Some(false)) {
            agent.dpi = Some(Dpi::new(dpi)?);
        }
        if let Some(depth) = s.depth {
            agent.depth = ColorDepth::new(depth)?;
        }
        if let Some(cache) = &s.cache_type {
            agent.cache_type = CacheType::parse(cache)?;
        }
        let c = common(s, display)?;
        agent.geometry = c.geometry;
        let title = c.title.clone();
        let (local, keyboard) = c.apply(
            &mut agent.link,
            &mut agent.pack,
            &mut agent.kblayout,
            &mut agent.kbtype,
            &mut agent.clipboard,
            &mut agent.xinerama,
        );
        Ok(StartPlan {
            agent,
            local,
            features: Features::new(s)?,
            sound: SoundPlan::new(s)?,
            keyboard,
            title,
        })
    }
}

impl ResumePlan {
    /// How to show a session again that `plan` started.
    pub fn after_start(plan: &StartPlan) -> ResumePlan {
        let a = &plan.agent;
        ResumePlan {
            args: ResumeArgs {
                geometry: a.geometry,
                link: a.link,
                pack: a.pack.clone(),
                kblayout: a.kblayout.clone(),
                kbtype: a.kbtype.clone(),
                clipboard: a.clipboard,
                xinerama: a.xinerama,
            },
            local: plan.local.clone(),
            features: plan.features.clone(),
            sound: plan.sound,
            keyboard: plan.keyboard.clone(),
            title: plan.title.clone(),
        }
    }

    /// Validates `s` for a resume (the command and type are the session's own).
    pub fn new(s: &SessionSettings, display: Option<String>) -> Result<ResumePlan, Error> {
        let c = common(s, display)?;
        let mut args = ResumeArgs {
            geometry: c.geometry,
            ..ResumeArgs::default()
        };
        let title = c.title.clone();
        let (local, keyboard) = c.apply(
            &mut args.link,
            &mut args.pack,
            &mut args.kblayout,
            &mut args.kbtype,
            &mut args.clipboard,
            &mut args.xinerama,
        );
        Ok(ResumePlan {
            args,
            local,
            features: Features::new(s)?,
            sound: SoundPlan::new(s)?,
            keyboard,
            title,
        })
    }
}

/// Longest window title accepted.
const TITLE_MAX_LEN: usize = 256;

/// The local window's title: `session_title` when `set_session_title` is true, or when it is
/// given and `set_session_title` is not false; python-x2go's default without one is the
/// command. It only ever becomes an X property, never part of a command line.
fn session_title(s: &SessionSettings) -> Result<Option<String>, Error> {
    let given = s
        .session_title
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let title = match (s.set_session_title, given) {
        (Some(false), _) | (None, None) => return Ok(None),
        (_, Some(t)) => t.to_owned(),
        (Some(true), None) => s.cmd.clone().unwrap_or_else(|| DEFAULT_COMMAND.to_owned()),
    };
    if title.len() > TITLE_MAX_LEN || title.chars().any(char::is_control) {
        return Err(Error::InvalidArgument(format!(
            "session_title must be at most {TITLE_MAX_LEN} bytes without control characters"
        )));
    }
    Ok(Some(title))
}

fn local_spec(s: &SessionSettings, display: Option<String>) -> Result<LocalSpec, Error> {
    let display = match display.or_else(|| std::env::var("DISPLAY").ok()) {
        Some(d) if valid_display(&d) => d,
        Some(d) => {
            return Err(Error::InvalidArgument(format!(
                "{d:?} is not an X display such as :0"
            )));
        }
        None => {
            return Err(Error::InvalidArgument(
                "no local X display: pass the option \"display\" or run x2god with DISPLAY set"
                    .into(),
            ));
        }
    };
    let nxproxy = match &s.nxproxy {
        Some(p) if p.is_absolute() && p.is_file() => p.clone(),
        Some(p) => {
            return Err(Error::NotFound(format!(
                "nxproxy {} is not an existing absolute path",
                p.display()
            )));
        }
        None => find_in_path("nxproxy").ok_or_else(|| {
            Error::NotFound("nxproxy is not in PATH: install it (apt install nxproxy)".into())
        })?,
    };
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|h| h.is_absolute())
        .ok_or_else(|| Error::Local("HOME is not set".into()))?;
    Ok(LocalSpec {
        nxproxy,
        display,
        xauthority: std::env::var_os("XAUTHORITY"),
        // python-x2go and x2goclient keep their per-session directories here too.
        root: home.join(".x2go"),
    })
}

/// `:N`, `:N.S` or `host:N` with a plain host name.
fn valid_display(d: &str) -> bool {
    let Some((host, rest)) = d.rsplit_once(':') else {
        return false;
    };
    let (num, screen) = rest.split_once('.').unwrap_or((rest, "0"));
    !num.is_empty()
        && num.len() <= 5
        && num.bytes().all(|b| b.is_ascii_digit())
        && screen.bytes().all(|b| b.is_ascii_digit())
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'/'))
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// How long `xdpyinfo` may take to describe the local display: a display that accepts and
/// never answers (the caller chooses it) must not hold a `Start`.
const XDPYINFO_TIMEOUT: Duration = Duration::from_secs(2);

/// Runs `f` (a plan's building, which may ask the local display) on the blocking pool, off
/// the async workers.
pub async fn off_workers<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Local(format!("planning the session failed: {e}")))?
}

/// The local screen's size, for `maximize`, as python-x2go does without a window manager's
/// work area; 1024x768 when the display cannot be asked or does not answer in time. Blocks:
/// call it through [`off_workers`].
fn maximized(local: &LocalSpec) -> Geometry {
    let fallback = Geometry::Size {
        width: 1024,
        height: 768,
    };
    let Some(xdpyinfo) = find_in_path("xdpyinfo") else {
        return fallback;
    };
    let mut cmd = std::process::Command::new(xdpyinfo);
    cmd.arg("-display")
        .arg(&local.display)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    if let Some(x) = &local.xauthority {
        cmd.env("XAUTHORITY", x);
    }
    let Ok(mut child) = cmd.spawn() else {
        return fallback;
    };
    // Read in a thread of its own, so that a full pipe cannot stall the child we wait for.
    let reader = child.stdout.take().map(|mut out| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = std::io::Read::read_to_end(&mut out, &mut text);
            text
        })
    });
    let deadline = std::time::Instant::now() + XDPYINFO_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            _ => {
                tracing::warn!(display = %local.display, "xdpyinfo did not answer in time; maximize uses 1024x768");
                let _ = child.kill();
                let _ = child.wait();
                return fallback;
            }
        }
    }
    let text = reader.and_then(|r| r.join().ok()).unwrap_or_default();
    String::from_utf8_lossy(&text)
        .lines()
        .find_map(|l| l.trim().strip_prefix("dimensions:"))
        .and_then(|d| d.split_whitespace().next())
        .and_then(|wh| Geometry::parse(wh).ok())
        .unwrap_or(fallback)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays() {
        for ok in [
            ":0",
            ":70",
            ":1.0",
            "localhost:10.0",
            "/tmp/launch-x/org.x:0",
        ] {
            assert!(valid_display(ok), "{ok}");
        }
        for bad in ["", "0", ":", ":a", ":0;id", "$(id):0", ":0 ", "a b:0"] {
            assert!(!valid_display(bad), "{bad}");
        }
    }

    #[test]
    fn plans_validate_before_anything_runs() {
        let mut s = SessionSettings {
            nxproxy: Some(PathBuf::from("/bin/true")),
            ..SessionSettings::default()
        };
        let d = Some(":99".to_owned());
        assert!(StartPlan::new(&s, d.clone()).is_ok());
        s.geometry = Some("0x0".into());
        assert!(matches!(
            StartPlan::new(&s, d.clone()),
            Err(Error::InvalidArgument(_))
        ));
        s.geometry = Some("1024x768".into());
        s.cmd = Some("xterm; touch /tmp/x".into());
        assert!(matches!(
            StartPlan::new(&s, d.clone()),
            Err(Error::InvalidArgument(_))
        ));
        s.cmd = Some("xterm -geometry 80x24".into());
        let p = StartPlan::new(&s, d.clone()).unwrap();
        assert_eq!(p.agent.session_type, SessionType::Application);
        s.cmd = Some("XFCE".into());
        assert_eq!(
            StartPlan::new(&s, d.clone()).unwrap().agent.session_type,
            SessionType::Desktop
        );
        s.session_type = Some("shadow".into());
        assert!(StartPlan::new(&s, d.clone()).is_err());
        s.session_type = None;
        assert!(StartPlan::new(&s, Some(":0;id".into())).is_err());
        s.nxproxy = Some(PathBuf::from("relative/nxproxy"));
        assert!(matches!(StartPlan::new(&s, d), Err(Error::NotFound(_))));
    }

    #[test]
    fn display_and_keyboard_settings_reach_the_plans() {
        let mut s = SessionSettings {
            nxproxy: Some(PathBuf::from("/bin/true")),
            depth: Some(16),
            cache_type: Some("unix-gnome".into()),
            xinerama: Some(true),
            dpi: Some(120),
            kbtype: Some("pc105/de".into()),
            kbvariant: Some("nodeadkeys".into()),
            ..SessionSettings::default()
        };
        let d = Some(":99".to_owned());
        let p = StartPlan::new(&s, d.clone()).unwrap();
        assert_eq!(
            p.agent.depth.cache_type(&p.agent.cache_type),
            "unix-gnome-depth_16"
        );
        assert!(p.agent.xinerama);
        assert_eq!(p.agent.dpi.map(Dpi::value), Some(120));
        let kb = p.keyboard.as_ref().unwrap().setxkbmap_args();
        assert_eq!(
            kb,
            ["-model", "pc105", "-layout", "de", "-variant", "nodeadkeys"]
        );
        let r = ResumePlan::after_start(&p);
        assert!(r.args.xinerama);
        assert_eq!(r.keyboard, p.keyboard);
        assert!(ResumePlan::new(&s, d.clone()).unwrap().args.xinerama);
        // setdpi false drops the dpi, as in python-x2go's and x2goclient's profiles.
        s.setdpi = Some(false);
        assert_eq!(StartPlan::new(&s, d.clone()).unwrap().agent.dpi, None);
        assert_eq!(p.title, None);
        s.session_title = Some(" Büro ".into());
        assert_eq!(
            StartPlan::new(&s, d.clone()).unwrap().title.as_deref(),
            Some("Büro")
        );
        s.set_session_title = Some(false);
        assert_eq!(StartPlan::new(&s, d.clone()).unwrap().title, None);
        s.set_session_title = Some(true);
        s.session_title = None;
        assert_eq!(
            StartPlan::new(&s, d.clone()).unwrap().title.as_deref(),
            Some("TERMINAL")
        );
        s.session_title = Some("a\nb".into());
        assert!(StartPlan::new(&s, d.clone()).is_err());
        s.session_title = None;
        // auto: the agent takes the client's keyboard; nothing to set afterwards.
        s.kbtype = Some("auto".into());
        assert!(StartPlan::new(&s, d.clone()).unwrap().keyboard.is_none());
        for (depth, cache, variant) in
            [(15, "unix-kde", "x"), (24, "a,b", "x"), (24, "kde", "x;id")]
        {
            s.depth = Some(depth);
            s.cache_type = Some(cache.into());
            s.kbvariant = Some(variant.into());
            assert!(
                matches!(
                    StartPlan::new(&s, d.clone()),
                    Err(Error::InvalidArgument(_))
                ),
                "{depth} {cache} {variant}"
            );
        }
    }

    #[test]
    fn maximize_against_a_display_that_never_answers_falls_back_in_time() {
        if find_in_path("xdpyinfo").is_none() {
            return;
        }
        // A "display" whose X port accepts connections and never answers.
        let Some((n, listener)) = (40..99u16).find_map(|n| {
            std::net::TcpListener::bind(("127.0.0.1", 6000 + n))
                .ok()
                .map(|l| (n, l))
        }) else {
            return;
        };
        let local = LocalSpec {
            nxproxy: PathBuf::from("/bin/true"),
            display: format!("127.0.0.1:{n}"),
            xauthority: None,
            root: PathBuf::from("/nonexistent"),
        };
        let started = std::time::Instant::now();
        let g = maximized(&local);
        assert!(started.elapsed() < XDPYINFO_TIMEOUT + Duration::from_secs(1));
        assert_eq!(
            g,
            Geometry::Size {
                width: 1024,
                height: 768
            }
        );
        drop(listener);
    }
}
