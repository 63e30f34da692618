//! One function per command: call x2god, then print a table (people) or JSON (scripts).

use std::collections::HashMap;

use serde_json::{Map, Value as Json, json};
use x2god_client::{Client, Options, Profile};
use x2god_proto::names::{BUS_NAME, PROFILE_INTERFACE, SESSION_INTERFACE};
use x2god_proto::path;
use zbus::OwnedVariant;

use crate::cli::{
    AppsArgs, ConnectArgs, ProfileCmd, ProfileSettingsArgs, SecretCmd, SessionOptions, ShareArgs,
    StateQuery,
};
use crate::exit::{Exit, Failure};
use crate::output::{self, Bytes, cell, dict_to_json, key_values, snake_case, table};
use crate::progress::Progress;
use crate::secret;
use crate::values::{Setting, Value, setting, to_options};

/// What a command returns: the exit code after printing its result, or a failure to report.
pub type Outcome = Result<Exit, Failure>;

/// Everything a command needs: the bus client and the output mode.
pub struct Ctx {
    /// The connection to x2god.
    pub client: Client,
    /// `--json`.
    pub json: bool,
    /// `--quiet`.
    pub quiet: bool,
    /// The spinner for long calls.
    pub progress: Progress,
}

fn io(e: std::io::Error) -> Failure {
    Failure::local(format!("cannot write the output: {e}"))
}

impl Ctx {
    async fn profile(&self, name: &str) -> Result<Profile, Failure> {
        Ok(self.client.profile(name).await?)
    }

    /// A confirmation for people, on stderr so that stdout carries only results.
    fn note(&self, msg: &str) {
        if !self.quiet && !self.json {
            eprintln!("{msg}");
        }
    }

    /// Prints `value` with `--json`, else the text `human` builds.
    fn emit(&self, value: &Json, human: impl FnOnce() -> String) -> Result<(), Failure> {
        if self.json {
            output::print_json(value).map_err(io)
        } else {
            output::print(&human()).map_err(io)
        }
    }

    /// All properties of `iface` at `path`, read in one call.
    async fn properties(
        &self,
        path: &str,
        iface: &'static str,
    ) -> Result<HashMap<String, OwnedVariant>, Failure> {
        let props = zbus::fdo::PropertiesProxy::builder(self.client.connection())
            .destination(BUS_NAME)
            .path(path.to_owned())
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await?;
        let iface = zbus::names::InterfaceName::from_static_str(iface)?;
        Ok(props.get_all(iface).await?)
    }

    /// A profile's properties as a JSON object with snake_case keys.
    async fn profile_json(&self, p: &Profile) -> Result<Map<String, Json>, Failure> {
        let props = self
            .properties(p.path().as_str(), PROFILE_INTERFACE)
            .await?;
        let mut m = Map::new();
        for (k, v) in &props {
            m.insert(snake_case(k), output::to_json(v, Bytes::Length));
        }
        Ok(m)
    }

    /// `{"profile", "session", "state"}` after a session operation, with the state x2god
    /// reports now, so a script sees the effect without a second call.
    async fn session_result(&self, p: &Profile, profile: &str, session: &str) -> Outcome {
        let state = p.proxy().session_state(session).await?;
        let value = json!({"profile": profile, "session": session, "state": state});
        if self.json {
            output::print_json(&value).map_err(io)?;
        }
        Ok(Exit::Ok)
    }
}

/// `x2goctl profile …`.
pub async fn profile(ctx: &Ctx, cmd: ProfileCmd) -> Outcome {
    match cmd {
        ProfileCmd::Add {
            name,
            host,
            settings,
        } => {
            let mut s = vec![setting("hostname", Value::Str(host))];
            s.extend(profile_settings(&settings)?);
            let p = ctx.client.create_profile(&name, to_options(&s)).await?;
            ctx.note(&format!("created profile {name}"));
            if ctx.json {
                output::print_json(&json!({"name": name, "path": p.path().as_str()}))
                    .map_err(io)?;
            }
            Ok(Exit::Ok)
        }
        ProfileCmd::Update {
            name,
            host,
            settings,
        } => {
            let mut s = Vec::new();
            if let Some(h) = host {
                s.push(setting("hostname", Value::Str(h)));
            }
            s.extend(profile_settings(&settings)?);
            if s.is_empty() {
                return Err(Failure::usage(
                    "nothing to change: give --host, --port, --user, --key, --set …",
                ));
            }
            let p = ctx.profile(&name).await?;
            p.proxy().update(to_options(&s).as_call_arg()).await?;
            ctx.note(&format!("updated profile {name}"));
            if ctx.json {
                output::print_json(&Json::Object(show_profile(ctx, &p).await?)).map_err(io)?;
            }
            Ok(Exit::Ok)
        }
        ProfileCmd::Rename { name, new_name } => {
            let p = ctx.profile(&name).await?;
            let new_path = p.proxy().set_profile_name(&new_name).await?;
            ctx.note(&format!("renamed profile {name} to {new_name}"));
            if ctx.json {
                output::print_json(&json!({"name": new_name, "path": new_path.as_str()}))
                    .map_err(io)?;
            }
            Ok(Exit::Ok)
        }
        ProfileCmd::Rm(a) => {
            ctx.client.remove_profile(&a.profile).await?;
            ctx.note(&format!("removed profile {}", a.profile));
            if ctx.json {
                output::print_json(&json!({"removed": a.profile})).map_err(io)?;
            }
            Ok(Exit::Ok)
        }
        ProfileCmd::List => {
            let mut rows = Vec::new();
            for p in ctx.client.profiles().await? {
                rows.push(ctx.profile_json(&p).await?);
            }
            rows.sort_by(|a, b| cell(&a["name"]).cmp(&cell(&b["name"])));
            let value = Json::Array(rows.iter().cloned().map(Json::Object).collect());
            ctx.emit(&value, || {
                let cols = ["name", "hostname", "port", "username", "state"];
                let body: Vec<Vec<String>> = rows
                    .iter()
                    .map(|r| cols.iter().map(|c| cell(&r[*c])).collect())
                    .collect();
                table(&["NAME", "HOST", "PORT", "USER", "STATE"], &body)
            })?;
            Ok(Exit::Ok)
        }
        ProfileCmd::Show(a) => {
            let p = ctx.profile(&a.profile).await?;
            let m = show_profile(ctx, &p).await?;
            print_object(ctx, m, PROFILE_ORDER)
        }
    }
}

/// The order `profile show` lists the fields in; others follow sorted.
const PROFILE_ORDER: &[&str] = &[
    "name",
    "hostname",
    "port",
    "username",
    "state",
    "connected",
    "session_died",
    "remote_username",
    "remote_peername",
    "last_error",
    "path",
    "settings",
];

async fn show_profile(ctx: &Ctx, p: &Profile) -> Result<Map<String, Json>, Failure> {
    let mut m = ctx.profile_json(p).await?;
    // Every stored setting, where the daemon can tell (an older one lacks GetSettings).
    match p.proxy().get_settings().await {
        Ok(settings) => {
            m.insert("settings".into(), dict_to_json(&settings, Bytes::Length));
        }
        Err(e) => {
            let f = Failure::from(e);
            if f.exit != Exit::NotSupported {
                return Err(f);
            }
        }
    }
    m.insert("path".into(), json!(p.path().as_str()));
    m.insert("connected".into(), json!(p.proxy().is_connected().await?));
    m.insert(
        "session_died".into(),
        json!(p.proxy().has_session_died().await?),
    );
    Ok(m)
}

/// Prints an object as JSON, or as `key: value` lines in `order`, then the remaining keys.
fn print_object(ctx: &Ctx, m: Map<String, Json>, order: &[&str]) -> Outcome {
    let value = Json::Object(m.clone());
    // Nested objects (a profile's settings) become `outer.inner` lines for people.
    let flat = |k: &str, v: &Json| -> Vec<(String, String)> {
        match v.as_object() {
            Some(inner) => inner
                .iter()
                .map(|(ik, iv)| (format!("{k}.{ik}"), cell(iv)))
                .collect(),
            None => vec![(k.to_owned(), cell(v))],
        }
    };
    ctx.emit(&value, || {
        let mut pairs: Vec<(String, String)> = order
            .iter()
            .filter_map(|k| m.get(*k).map(|v| flat(k, v)))
            .flatten()
            .collect();
        let mut rest: Vec<(String, String)> = m
            .iter()
            .filter(|(k, _)| !order.contains(&k.as_str()))
            .flat_map(|(k, v)| flat(k, v))
            .collect();
        rest.sort();
        pairs.extend(rest);
        key_values(&pairs)
    })?;
    Ok(Exit::Ok)
}

/// The settings the flags of `profile add`/`update` stand for.
fn profile_settings(a: &ProfileSettingsArgs) -> Result<Vec<Setting>, Failure> {
    let mut s = Vec::new();
    if let Some(port) = a.port {
        s.push(setting("port", Value::U16(port)));
    }
    if let Some(u) = &a.user {
        s.push(setting("username", Value::Str(u.clone())));
    }
    if !a.key.is_empty() {
        let mut keys = Vec::new();
        for k in &a.key {
            keys.push(absolute(k)?);
        }
        s.push(setting("key_filename", Value::List(keys)));
    }
    for (key, v) in [
        ("allow_agent", a.agent),
        ("look_for_keys", a.look_for_keys),
        ("add_to_known_hosts", a.add_to_known_hosts),
        ("force_password_auth", a.force_password),
    ] {
        if let Some(b) = v {
            s.push(setting(key, Value::Bool(b)));
        }
    }
    s.extend(a.set.iter().cloned());
    Ok(s)
}

/// x2god runs in another directory, so a relative path (a key, a folder) must be resolved here.
fn absolute(p: &std::path::Path) -> Result<String, Failure> {
    let abs =
        std::path::absolute(p).map_err(|e| Failure::usage(format!("{}: {e}", p.display())))?;
    abs.to_str()
        .map(str::to_owned)
        .ok_or_else(|| Failure::usage(format!("{}: not UTF-8", abs.display())))
}

/// `x2goctl connect`.
pub async fn connect(ctx: &Ctx, a: ConnectArgs) -> Outcome {
    let p = ctx.profile(&a.profile).await?;
    let can_prompt = !a.no_prompt && !a.password_stdin && secret::interactive();
    let mut password: Option<String> = None;
    let mut passphrase: Option<String> = None;
    match (a.password_stdin, a.passphrase_stdin) {
        (true, true) => {
            let mut lines = secret::stdin_lines(2)?.into_iter();
            password = lines.next();
            passphrase = lines.next();
        }
        (true, false) => password = secret::stdin_lines(1)?.into_iter().next(),
        (false, true) => passphrase = secret::stdin_lines(1)?.into_iter().next(),
        (false, false) => {}
    }
    if a.ask_password {
        if !secret::interactive() {
            return Err(Failure::usage(
                "--ask-password needs a terminal on stdin; scripts use --password-stdin",
            ));
        }
        password = Some(secret::prompt(&password_question(&p).await)?);
    }
    let mut asked_password = a.ask_password;
    let mut asked_host_key = false;
    // With an agent registered, x2god itself asks on the terminal for exactly what it needs
    // (password, passphrase, one-time code, host key). An x2god without agent support refuses
    // the registration; then the fallback below prompts after AuthFailed / HostKeyUnknown.
    let _agent = if can_prompt {
        ctx.client.register_agent(secret::TerminalAgent).await.ok()
    } else {
        None
    };
    loop {
        let mut o = to_options(&a.set);
        if let Some(pw) = &password {
            o = o.set("password", pw.as_str());
        }
        if let Some(pp) = &passphrase {
            o = o.set("passphrase", pp.as_str());
        }
        let label = format!("connecting {}", a.profile);
        let r = ctx.progress.run(&label, p.connect(o)).await;
        match r {
            Ok(()) => break,
            // A person at a terminal gets what ssh offers: the password prompt when keys and
            // agent did not do, once.
            Err(x2god_client::Error::AuthFailed(_)) if can_prompt && !asked_password => {
                asked_password = true;
                password = Some(secret::prompt(&password_question(&p).await)?);
            }
            // And the host key question, with the fingerprint to compare.
            Err(x2god_client::Error::HostKeyUnknown(msg)) if can_prompt && !asked_host_key => {
                asked_host_key = true;
                let Some(fp) = fingerprint_in(&msg) else {
                    return Err(x2god_client::Error::HostKeyUnknown(msg).into());
                };
                eprintln!("{msg}");
                if !secret::confirm(&format!("Trust the host key {fp}?")) {
                    return Err(Failure::from(x2god_client::Error::HostKeyUnknown(msg)));
                }
                p.proxy().trust_host_key(&fp).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    ctx.note(&format!("connected {}", a.profile));
    if ctx.json {
        let m = show_profile(ctx, &p).await?;
        output::print_json(&Json::Object(m)).map_err(io)?;
    }
    Ok(Exit::Ok)
}

async fn password_question(p: &Profile) -> String {
    let user = p.proxy().username().await.unwrap_or_default();
    let host = p.proxy().hostname().await.unwrap_or_default();
    if user.is_empty() {
        format!("Password for {host}: ")
    } else {
        format!("Password for {user}@{host}: ")
    }
}

/// The `SHA256:…` fingerprint in an x2god host-key message.
pub fn fingerprint_in(msg: &str) -> Option<String> {
    let start = msg.find("SHA256:")?;
    let fp: String = msg
        .get(start..)?
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '+' | '/' | '='))
        .collect();
    (fp.len() > "SHA256:".len()).then_some(fp)
}

/// `x2goctl disconnect`.
pub async fn disconnect(ctx: &Ctx, profile: &str) -> Outcome {
    let p = ctx.profile(profile).await?;
    ctx.progress
        .run(&format!("disconnecting {profile}"), p.disconnect())
        .await?;
    ctx.note(&format!("disconnected {profile}"));
    if ctx.json {
        output::print_json(&json!({"profile": profile, "state": p.proxy().state().await?}))
            .map_err(io)?;
    }
    Ok(Exit::Ok)
}

/// `x2goctl ping`.
pub async fn ping(ctx: &Ctx, profile: &str) -> Outcome {
    let p = ctx.profile(profile).await?;
    let alive = ctx
        .progress
        .run(&format!("pinging {profile}"), p.proxy().is_alive())
        .await?;
    ctx.emit(&json!({"profile": profile, "alive": alive}), || {
        format!("{profile}: {}\n", if alive { "alive" } else { "not alive" })
    })?;
    Ok(if alive { Exit::Ok } else { Exit::Network })
}

/// `x2goctl check-host`.
pub async fn check_host(ctx: &Ctx, profile: &str) -> Outcome {
    let p = ctx.profile(profile).await?;
    let known = ctx
        .progress
        .run(&format!("checking {profile}"), p.proxy().check_host())
        .await?;
    ctx.emit(&json!({"profile": profile, "known": known}), || {
        format!(
            "{profile}: host key {}\n",
            if known { "known" } else { "unknown" }
        )
    })?;
    Ok(if known { Exit::Ok } else { Exit::HostKey })
}

/// `x2goctl trust-host-key`.
pub async fn trust_host_key(ctx: &Ctx, profile: &str, fingerprint: &str) -> Outcome {
    let p = ctx.profile(profile).await?;
    ctx.progress
        .run(
            &format!("checking {profile}"),
            p.proxy().trust_host_key(fingerprint),
        )
        .await?;
    ctx.note(&format!("trusted {fingerprint} for {profile}"));
    if ctx.json {
        output::print_json(&json!({"profile": profile, "trusted": fingerprint})).map_err(io)?;
    }
    Ok(Exit::Ok)
}

/// `x2goctl sessions`.
pub async fn sessions(ctx: &Ctx, profile: &str, raw: bool) -> Outcome {
    let p = ctx.profile(profile).await?;
    if raw {
        let text = p.proxy().list_sessions_raw().await?;
        ctx.emit(&json!({"profile": profile, "raw": text}), || text.clone())?;
        return Ok(Exit::Ok);
    }
    let list = ctx
        .progress
        .run(
            &format!("listing sessions of {profile}"),
            p.proxy().list_sessions(),
        )
        .await?;
    let mut rows: Vec<Json> = list
        .iter()
        .map(|d| dict_to_json(d, Bytes::Length))
        .collect();
    rows.sort_by_key(|r| cell(&r["name"]));
    let value = Json::Array(rows.clone());
    ctx.emit(&value, || {
        let body: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    cell(&r["name"]),
                    status_word(&cell(&r["status"])),
                    cell(&r["session_type"]),
                    cell(&r["display"]),
                    cell(&r["date_created"]),
                    cell(&r["command"]),
                ]
            })
            .collect();
        table(
            &["NAME", "STATE", "TYPE", "DISPLAY", "CREATED", "COMMAND"],
            &body,
        )
    })?;
    Ok(Exit::Ok)
}

fn status_word(s: &str) -> String {
    match s {
        "R" => "running".into(),
        "S" => "suspended".into(),
        other => other.into(),
    }
}

const SESSION_ORDER: &[&str] = &[
    "name",
    "profile",
    "state",
    "local",
    "session_type",
    "command",
    "display",
    "username",
    "date_created",
    "date_suspended",
    "client_ip",
    "agent_pid",
    "graphics_port",
];

/// `x2goctl session`: the Session object's properties.
pub async fn session(ctx: &Ctx, profile: &str, name: &str) -> Outcome {
    // The profile first, so an unknown profile is reported as such and not as a session.
    ctx.profile(profile).await?;
    let spath = path::session_path(profile, name);
    let props = match ctx.properties(spath.as_str(), SESSION_INTERFACE).await {
        Ok(p) => p,
        Err(f) if matches!(f.exit, Exit::NotFound | Exit::NotSupported) => {
            return Err(Failure::new(
                Exit::NotFound,
                "NotFound",
                format!(
                    "profile {profile} has no session {name} (see `x2goctl sessions {profile}`)"
                ),
            ));
        }
        Err(f) => return Err(f),
    };
    let mut m = Map::new();
    for (k, v) in &props {
        let key = snake_case(k);
        let mut value = output::to_json(v, Bytes::Length);
        // The profile is an object path; people and scripts know it by name.
        if key == "profile"
            && let Ok(p) = zbus::ObjectPath::try_from(cell(&value).as_str())
            && let Some(n) = path::profile_name(&p)
        {
            value = json!(n);
        }
        m.insert(key, value);
    }
    print_object(ctx, m, SESSION_ORDER)
}

/// `x2goctl state`.
pub async fn state(ctx: &Ctx, profile: &str, name: &str, is: Option<StateQuery>) -> Outcome {
    let p = ctx.profile(profile).await?;
    let px = p.proxy();
    match is {
        None => {
            let s = px.session_state(name).await?;
            ctx.emit(
                &json!({"profile": profile, "session": name, "state": s}),
                || format!("{s}\n"),
            )?;
        }
        Some(q) => {
            let (key, b) = match q {
                StateQuery::Running => ("running", px.is_running(name).await?),
                StateQuery::Suspended => ("suspended", px.is_suspended(name).await?),
                StateQuery::Terminated => ("terminated", px.has_terminated(name).await?),
            };
            ctx.emit(
                &json!({"profile": profile, "session": name, key: b}),
                || format!("{b}\n"),
            )?;
        }
    }
    Ok(Exit::Ok)
}

fn session_settings(o: &SessionOptions) -> Vec<Setting> {
    let mut s = Vec::new();
    for (key, v) in [
        ("cmd", &o.cmd),
        ("session_type", &o.session_type),
        ("geometry", &o.geometry),
        ("display", &o.display),
    ] {
        if let Some(v) = v {
            s.push(setting(key, Value::Str(v.clone())));
        }
    }
    s.extend(o.set.iter().cloned());
    s
}

/// `x2goctl start`.
pub async fn start(ctx: &Ctx, profile: &str, o: &SessionOptions) -> Outcome {
    let p = ctx.profile(profile).await?;
    let opts = to_options(&session_settings(o));
    let (name, spath) = ctx
        .progress
        .run(
            &format!("starting a session on {profile}"),
            p.proxy().start(opts.as_call_arg()),
        )
        .await?;
    ctx.emit(
        &json!({"profile": profile, "session": name, "path": spath.as_str()}),
        || format!("{name}\n"),
    )?;
    Ok(Exit::Ok)
}

/// `x2goctl resume`.
pub async fn resume(ctx: &Ctx, profile: &str, name: &str, o: &SessionOptions) -> Outcome {
    let p = ctx.profile(profile).await?;
    let opts = to_options(&session_settings(o));
    ctx.progress
        .run(
            &format!("resuming {name}"),
            p.proxy().resume(name, opts.as_call_arg()),
        )
        .await?;
    ctx.note(&format!("resumed {name}"));
    ctx.session_result(&p, profile, name).await
}

/// `x2goctl suspend`.
pub async fn suspend(ctx: &Ctx, profile: &str, name: &str) -> Outcome {
    let p = ctx.profile(profile).await?;
    ctx.progress
        .run(&format!("suspending {name}"), p.proxy().suspend(name))
        .await?;
    ctx.note(&format!("suspended {name}"));
    ctx.session_result(&p, profile, name).await
}

/// `x2goctl terminate`.
pub async fn terminate(ctx: &Ctx, profile: &str, name: &str, destroy_terminals: bool) -> Outcome {
    let p = ctx.profile(profile).await?;
    let mut o = Options::new();
    if destroy_terminals {
        o = o.set("destroy_terminals", true);
    }
    ctx.progress
        .run(
            &format!("terminating {name}"),
            p.proxy().terminate(name, o.as_call_arg()),
        )
        .await?;
    ctx.note(&format!("terminated {name}"));
    ctx.session_result(&p, profile, name).await
}

/// `x2goctl dissociate`.
pub async fn dissociate(ctx: &Ctx, profile: &str, name: &str) -> Outcome {
    let p = ctx.profile(profile).await?;
    ctx.progress
        .run(&format!("dissociating {name}"), p.proxy().dissociate(name))
        .await?;
    ctx.note(&format!("dissociated {name}"));
    ctx.session_result(&p, profile, name).await
}

/// `x2goctl clean`.
pub async fn clean(ctx: &Ctx, profile: &str, published: bool, yes: bool) -> Outcome {
    if !yes {
        if !secret::interactive() {
            return Err(Failure::usage(
                "clean terminates every session of the user: confirm with --yes",
            ));
        }
        if !secret::confirm(&format!(
            "Terminate every session of {profile}'s user on the server?"
        )) {
            return Err(Failure::new(
                Exit::Failure,
                "Cancelled",
                "nothing was terminated",
            ));
        }
    }
    let p = ctx.profile(profile).await?;
    let mut o = Options::new();
    if published {
        o = o.set("published_applications", true);
    }
    ctx.progress
        .run(
            &format!("terminating every session of {profile}"),
            p.proxy().clean_sessions(o.as_call_arg()),
        )
        .await?;
    ctx.note(&format!("terminated every session of {profile}"));
    if ctx.json {
        output::print_json(&json!({"profile": profile, "cleaned": true})).map_err(io)?;
    }
    Ok(Exit::Ok)
}

fn maxwait(o: Options, maxwait: Option<f64>) -> Result<Options, Failure> {
    match maxwait {
        None => Ok(o),
        Some(m) if m.is_finite() && m > 0.0 => Ok(o.set("maxwait", m)),
        Some(m) => Err(Failure::usage(format!(
            "--maxwait {m}: must be a positive number of seconds"
        ))),
    }
}

/// `x2goctl desktops`.
pub async fn desktops(ctx: &Ctx, profile: &str, wait: Option<f64>) -> Outcome {
    let p = ctx.profile(profile).await?;
    let o = maxwait(Options::new(), wait)?;
    let list = ctx
        .progress
        .run(
            &format!("listing desktops on {profile}"),
            p.proxy().list_desktops(o.as_call_arg()),
        )
        .await?;
    let mut rows: Vec<Json> = list
        .iter()
        .map(|d| dict_to_json(d, Bytes::Length))
        .collect();
    rows.sort_by_key(|r| cell(&r["desktop"]));
    let value = Json::Array(rows.clone());
    ctx.emit(&value, || {
        let body: Vec<Vec<String>> = rows
            .iter()
            .map(|r| vec![cell(&r["desktop"]), cell(&r["user"]), cell(&r["display"])])
            .collect();
        table(&["DESKTOP", "USER", "DISPLAY"], &body)
    })?;
    Ok(Exit::Ok)
}

/// `x2goctl share`.
pub async fn share(ctx: &Ctx, a: &ShareArgs) -> Outcome {
    let p = ctx.profile(&a.profile).await?;
    let mut s: Vec<Setting> = Vec::new();
    if let Some(d) = &a.desktop {
        s.push(setting("desktop", Value::Str(d.clone())));
    }
    if let Some(u) = &a.user {
        s.push(setting("user", Value::Str(u.clone())));
    }
    if let Some(d) = &a.display {
        s.push(setting("display", Value::Str(d.clone())));
    }
    s.push(setting(
        "share_mode",
        Value::I32(if a.full_access { 1 } else { 0 }),
    ));
    if let Some(d) = &a.local_display {
        s.push(setting("local_display", Value::Str(d.clone())));
    }
    if let Some(g) = &a.geometry {
        s.push(setting("geometry", Value::Str(g.clone())));
    }
    s.extend(a.set.iter().cloned());
    let o = maxwait(to_options(&s), a.maxwait)?;
    let (name, spath) = ctx
        .progress
        .run(
            &format!("sharing a desktop on {}", a.profile),
            p.proxy().share_desktop(o.as_call_arg()),
        )
        .await?;
    ctx.emit(
        &json!({"profile": a.profile, "session": name, "path": spath.as_str()}),
        || format!("{name}\n"),
    )?;
    Ok(Exit::Ok)
}

/// `x2goctl mounts`.
pub async fn mounts(ctx: &Ctx, profile: &str, name: &str, wait: Option<f64>) -> Outcome {
    let p = ctx.profile(profile).await?;
    let o = maxwait(Options::new(), wait)?;
    let list = ctx
        .progress
        .run(
            &format!("listing mounts of {name}"),
            p.proxy().list_mounts(name, o.as_call_arg()),
        )
        .await?;
    ctx.emit(&json!(list), || {
        list.iter().map(|m| format!("{m}\n")).collect()
    })?;
    Ok(Exit::Ok)
}

/// `x2goctl share-folder`.
pub async fn share_folder(
    ctx: &Ctx,
    profile: &str,
    name: &str,
    path: &std::path::Path,
    readonly: bool,
) -> Outcome {
    let p = ctx.profile(profile).await?;
    let folder = absolute(path)?;
    let s = p.session(name).await?;
    ctx.progress
        .run(
            &format!("sharing {folder} with {name}"),
            s.share_folder(&folder, readonly),
        )
        .await?;
    ctx.note(&format!("shared {folder} with {name}"));
    shared_folders(ctx, &s).await
}

/// `x2goctl unshare-folder`.
pub async fn unshare_folder(
    ctx: &Ctx,
    profile: &str,
    name: &str,
    path: Option<&std::path::Path>,
) -> Outcome {
    let p = ctx.profile(profile).await?;
    let s = p.session(name).await?;
    match path {
        Some(path) => {
            let folder = absolute(path)?;
            ctx.progress
                .run(&format!("unsharing {folder}"), s.unshare_folder(&folder))
                .await?;
            ctx.note(&format!("unshared {folder} from {name}"));
        }
        None => {
            ctx.progress
                .run("unsharing every folder", s.unshare_all_folders())
                .await?;
            ctx.note(&format!("unshared every folder from {name}"));
        }
    }
    shared_folders(ctx, &s).await
}

/// Prints the folders shared into a session: `path` and `ro`/`rw` a line, or JSON.
async fn shared_folders(ctx: &Ctx, s: &x2god_client::SessionHandle) -> Outcome {
    let folders = s.shared_folders().await?;
    let rows: Vec<serde_json::Value> = folders
        .iter()
        .map(|(path, ro)| json!({ "path": path, "readonly": ro }))
        .collect();
    ctx.emit(&json!(rows), || {
        folders
            .iter()
            .map(|(p, ro)| format!("{p}\t{}\n", if *ro { "ro" } else { "rw" }))
            .collect()
    })?;
    Ok(Exit::Ok)
}

/// `x2goctl apps`.
pub async fn apps(ctx: &Ctx, a: &AppsArgs) -> Outcome {
    let p = ctx.profile(&a.profile).await?;
    let mut o = Options::new();
    if let Some(l) = &a.lang {
        o = o.set("lang", l.as_str());
    }
    if let Some(n) = a.max_no_submenus {
        o = o.set("max_no_submenus", n);
    }
    for (k, b) in [
        ("refresh", a.refresh),
        ("raw", a.raw),
        ("very_raw", a.very_raw),
    ] {
        if b {
            o = o.set(k, true);
        }
    }
    let d = ctx
        .progress
        .run(
            &format!("reading the menu of {}", a.profile),
            p.proxy().published_applications(o.as_call_arg()),
        )
        .await?;
    let bytes = if a.icons {
        Bytes::Base64
    } else {
        Bytes::Length
    };
    let value = dict_to_json(&d, bytes);
    ctx.emit(&value, || apps_text(&value))?;
    Ok(Exit::Ok)
}

/// The menu as a person reads it: categories, then each entry's name and command.
fn apps_text(v: &Json) -> String {
    if let Some(text) = v.get("text").and_then(Json::as_str) {
        return text.to_owned();
    }
    let entry_line = |e: &Json| {
        let name = cell(&e["name"]);
        let exec = cell(&e["exec"]);
        format!("  {name:<30}  {exec}\n")
    };
    let mut out = String::new();
    if let Some(entries) = v.get("entries").and_then(Json::as_array) {
        for e in entries {
            out.push_str(&entry_line(e));
        }
        return out;
    }
    if let Some(menu) = v.get("menu").and_then(Json::as_object) {
        for (category, entries) in menu {
            out.push_str(&format!("{category}\n"));
            for e in entries.as_array().into_iter().flatten() {
                out.push_str(&entry_line(e));
            }
        }
    }
    out
}

/// `x2goctl exec`.
pub async fn exec(ctx: &Ctx, profile: &str, name: &str, app: &str) -> Outcome {
    let p = ctx.profile(profile).await?;
    ctx.progress
        .run(
            &format!("starting {app}"),
            p.proxy().exec_published_application(name, app),
        )
        .await?;
    ctx.note(&format!("started {app} in {name}"));
    if ctx.json {
        output::print_json(&json!({"profile": profile, "session": name, "started": app}))
            .map_err(io)?;
    }
    Ok(Exit::Ok)
}

/// `x2goctl features`.
pub async fn features(ctx: &Ctx, profile: &str, force: bool) -> Outcome {
    let p = ctx.profile(profile).await?;
    let mut list = ctx
        .progress
        .run(
            &format!("asking {profile}"),
            p.proxy().server_features(force),
        )
        .await?;
    list.sort();
    ctx.emit(&json!(list), || {
        list.iter().map(|f| format!("{f}\n")).collect()
    })?;
    Ok(Exit::Ok)
}

/// `x2goctl versions`.
pub async fn versions(ctx: &Ctx, profile: &str, force: bool) -> Outcome {
    let p = ctx.profile(profile).await?;
    let map = ctx
        .progress
        .run(
            &format!("asking {profile}"),
            p.proxy().server_versions(force),
        )
        .await?;
    let sorted: std::collections::BTreeMap<String, String> = map.into_iter().collect();
    ctx.emit(&json!(sorted), || {
        let body: Vec<Vec<String>> = sorted
            .iter()
            .map(|(k, v)| vec![k.clone(), v.clone()])
            .collect();
        table(&["COMPONENT", "VERSION"], &body)
    })?;
    Ok(Exit::Ok)
}

/// The yes/no queries: `home-exists`, `sshfs-available`, `is-x2go-user`.
pub enum Query {
    /// HomeExists
    Home,
    /// IsSshfsAvailable
    Sshfs,
    /// IsX2goUser
    X2goUser(String),
}

/// Runs a yes/no query and prints `true`/`false`.
pub async fn query(ctx: &Ctx, profile: &str, q: Query) -> Outcome {
    let p = ctx.profile(profile).await?;
    let px = p.proxy();
    let label = format!("asking {profile}");
    let (key, b) = match &q {
        Query::Home => (
            "home_exists",
            ctx.progress.run(&label, px.home_exists()).await?,
        ),
        Query::Sshfs => (
            "sshfs_available",
            ctx.progress.run(&label, px.is_sshfs_available()).await?,
        ),
        Query::X2goUser(u) => (
            "x2go_user",
            ctx.progress.run(&label, px.is_x2go_user(u)).await?,
        ),
    };
    let mut value = json!({"profile": profile, key: b});
    if let (Query::X2goUser(u), Some(m)) = (&q, value.as_object_mut()) {
        m.insert("user".into(), json!(u));
    }
    ctx.emit(&value, || format!("{b}\n"))?;
    Ok(Exit::Ok)
}

/// `x2goctl version`.
pub async fn version(ctx: &Ctx) -> Outcome {
    let daemon = ctx.client.manager().version().await?;
    let mine = env!("CARGO_PKG_VERSION");
    ctx.emit(&json!({"x2goctl": mine, "x2god": daemon}), || {
        format!("x2goctl {mine}\nx2god {daemon}\n")
    })?;
    Ok(Exit::Ok)
}

/// `x2goctl secret store|forget`.
pub async fn secret(ctx: &Ctx, cmd: SecretCmd) -> Outcome {
    match cmd {
        SecretCmd::Store { profile, kind } => {
            let p = ctx.profile(&profile).await?;
            let value = if secret::interactive() {
                secret::prompt(&format!("{} for profile {profile}: ", kind.as_str()))?
            } else {
                secret::stdin_lines(1)?
                    .into_iter()
                    .next()
                    .unwrap_or_default()
            };
            if value.is_empty() {
                return Err(Failure::usage("an empty secret is not stored"));
            }
            ctx.progress
                .run(
                    "storing in the keyring",
                    p.proxy().store_secret(kind.as_str(), &value),
                )
                .await?;
            ctx.note(&format!("stored the {} of {profile}", kind.as_str()));
            if ctx.json {
                output::print_json(&json!({"profile": profile, "stored": kind.as_str()}))
                    .map_err(io)?;
            }
        }
        SecretCmd::Forget { profile, kind } => {
            let p = ctx.profile(&profile).await?;
            p.proxy().forget_secret(kind.as_str()).await?;
            ctx.note(&format!("forgot the {} of {profile}", kind.as_str()));
            if ctx.json {
                output::print_json(&json!({"profile": profile, "forgotten": kind.as_str()}))
                    .map_err(io)?;
            }
        }
    }
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_found() {
        let m = "the host key of [127.0.0.1]:22220 is not known: the server offered ssh-ed25519 \
                 SHA256:abc+/DEF123=; check this fingerprint";
        assert_eq!(fingerprint_in(m).as_deref(), Some("SHA256:abc+/DEF123="));
        assert_eq!(fingerprint_in("no key here"), None);
        assert_eq!(fingerprint_in("SHA256: "), None);
    }

    #[test]
    fn menu_text() {
        let v = json!({"menu": {"TOP": [{"name": "XTerm", "exec": "xterm"}]}, "lang": "en"});
        assert_eq!(
            apps_text(&v),
            "TOP\n  XTerm                           xterm\n"
        );
        assert_eq!(apps_text(&json!({"text": "raw\n"})), "raw\n");
    }
}
