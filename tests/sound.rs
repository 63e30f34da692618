//! Sound: a tone played inside a session reaches the local sound server (the lab's
//! PulseAudio, a null sink whose monitor is recorded), across suspend, resume and a lost and
//! regained connection; nobody else on the server gets in without the session's cookie; no
//! local sound server means a silent session, not a failed one; and sessions move with their
//! sound between x2god and pyhoca-cli.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use x2god_client::{ConnectionState, Options, Profile, SessionHandle};
use x2god_tests::{Daemon, Lab, PrivateSshd, Pyhoca, wait_until};

use crate::reliability::connected_at;
use crate::shares::as_user;
use crate::{GRAPHICAL, bounded, connected, expect_err};

/// The session command of the lab (tests/lab/pulse.sh): plays `<n>.wav` of its folder when
/// `<n>.play` appears there.
const PLAYER: &str = "x2god-sndloop";
/// Length of the test tone.
const TONE_SECONDS: f64 = 2.0;

/// The environment that reaches the lab's sound server (for x2god, parec, pactl).
fn pulse_env(lab: &Lab) -> Vec<(String, String)> {
    vec![
        ("PULSE_SERVER".into(), lab.var("PULSE_SERVER")),
        ("PULSE_COOKIE".into(), lab.var("PULSE_COOKIE")),
    ]
}

/// x2god on the lab's display whose user has the lab's sound server.
async fn daemon_with_sound(lab: &Lab) -> Daemon {
    let mut env = lab.display_env();
    env.extend(pulse_env(lab));
    Daemon::start_with_env(env).await
}

/// A recording of the lab sink's monitor: raw 48 kHz stereo s16le, while it lives.
struct Recording {
    child: Child,
    file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Recording {
    fn start(lab: &Lab) -> Recording {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rec.raw");
        let child = Command::new("parec")
            .args(["-d", &format!("{}.monitor", lab.var("PULSE_SINK"))])
            .args([
                "--rate=48000",
                "--channels=2",
                "--format=s16le",
                "--latency-msec=10",
            ])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", lab.var("PULSE_HOME"))
            .env("XDG_RUNTIME_DIR", lab.var("PULSE_RUNTIME_DIR"))
            .envs(pulse_env(lab))
            .stdout(std::fs::File::create(&file).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("parec (apt install pulseaudio-utils)");
        Recording {
            child,
            file,
            _dir: dir,
        }
    }

    /// Stops recording; the samples.
    fn stop(mut self) -> Vec<i16> {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        let bytes = std::fs::read(&self.file).unwrap();
        bytes
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect()
    }
}

/// What sox says of the left channel of a recording, silence around it cut off.
#[derive(Debug)]
struct Tone {
    seconds: f64,
    rms: f64,
    rough_hz: f64,
    peak_hz: f64,
}

fn analyse(samples: &[i16]) -> Tone {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("rec.raw");
    let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    std::fs::write(&raw, bytes).unwrap();
    let trimmed = dir.path().join("trimmed.wav");
    let raw_in = [
        "-t", "raw", "-r", "48000", "-e", "signed", "-b", "16", "-c", "2",
    ];
    let ok = Command::new("sox")
        .args(raw_in)
        .arg(&raw)
        .arg(&trimmed)
        .args([
            "silence", "1", "0.01", "1%", "reverse", "silence", "1", "0.01", "1%", "reverse",
        ])
        .status()
        .expect("sox")
        .success();
    assert!(ok, "sox could not trim the recording");
    let stat = |extra: &[&str]| {
        let out = Command::new("sox")
            .arg(&trimmed)
            .args(["-n", "remix", "1", "stat"])
            .args(extra)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let text = stat(&[]);
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(':').next())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // `stat -freq` prints one "frequency power" line per FFT bin: the strongest bin.
    let peak_hz = stat(&["-freq"])
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((
                w.next()?.parse::<f64>().ok()?,
                w.next()?.parse::<f64>().ok()?,
            ))
        })
        .fold(
            (0.0, f64::MIN),
            |best, (f, p)| if p > best.1 { (f, p) } else { best },
        )
        .0;
    Tone {
        seconds: field("Length (seconds)"),
        rms: field("RMS     amplitude"),
        rough_hz: field("Rough   frequency"),
        peak_hz,
    }
}

/// The loudest sample of a recording (0: silence).
fn loudest(samples: &[i16]) -> u16 {
    samples.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0)
}

/// The player's folder of `session` on the server.
fn player_dir(user: &str, session: &str) -> String {
    let (_, home, _) = as_user(user, "printf %s \"$HOME\"", &[]);
    format!("{home}/.x2god-snd/{session}")
}

/// Has the session's player play a fresh 440 Hz tone (`n` names it); its exit status and log.
async fn play(user: &str, session: &str, n: u32) -> (String, String) {
    let dir = player_dir(user, session);
    // The player makes its folder as it starts, which may be just after the session does.
    wait_until("the session's player", Duration::from_secs(30), || {
        as_user(user, "test -d \"$1\"", &[&dir]).0
    })
    .await;
    let (ok, _, err) = as_user(
        user,
        "sox -n -r 48000 -c 2 -b 16 \"$1/$2.wav\" synth \"$3\" sine 440 vol 0.5 && touch \"$1/$2.play\"",
        &[&dir, &n.to_string(), &TONE_SECONDS.to_string()],
    );
    assert!(ok, "cannot make the tone: {err}");
    let done = format!("{dir}/{n}.done");
    wait_until("the player to finish", Duration::from_secs(30), || {
        as_user(user, "test -s \"$1\"", &[&done]).0
    })
    .await;
    let rc = as_user(user, "cat \"$1\"", &[&done]).1.trim().to_owned();
    let log = as_user(user, "cat \"$1/$2.log\"", &[&dir, &n.to_string()]).1;
    (rc, log)
}

/// Plays a tone in the session and checks the recording of the local sink has it: loud
/// enough, 440 ± 10 Hz, as long as played within 5 %.
async fn assert_tone_arrives(lab: &Lab, user: &str, session: &str, n: u32, when: &str) {
    let rec = Recording::start(lab);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (rc, log) = play(user, session, n).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let samples = rec.stop();
    assert_eq!(rc, "0", "paplay failed {when}: {log}");
    assert!(loudest(&samples) > 8000, "nothing reached the sink {when}");
    let tone = analyse(&samples);
    eprintln!("{when}: {tone:?}");
    assert!(tone.rms > 0.2, "too quiet {when}: {tone:?}");
    let near = |hz: f64| (hz - 440.0).abs() <= 10.0;
    assert!(
        near(tone.rough_hz) && near(tone.peak_hz),
        "not 440 Hz {when}: {tone:?}"
    );
    assert!(
        (tone.seconds - TONE_SECONDS).abs() <= TONE_SECONDS * 0.05,
        "recorded {} s of a {TONE_SECONDS} s tone {when}",
        tone.seconds
    );
}

/// A desktop session whose program is the lab's player.
fn player_session() -> Options {
    Options::new()
        .set("cmd", PLAYER)
        .set("session_type", "desktop")
        .set("geometry", "320x240")
}

async fn wait_sound(s: &SessionHandle, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let now = s.sound().await.unwrap();
        if now == want {
            return;
        }
        assert!(Instant::now() < deadline, "Sound is {now:?}, not {want:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The server port of the session's sound.
async fn sound_port(p: &Profile, session: &str) -> u16 {
    let listed = p.list_sessions().await.unwrap();
    let s = listed.iter().find(|s| s.name == session).unwrap();
    u16::try_from(s.raw["snd_port"].clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tone_in_the_session_reaches_the_local_sink_across_suspend_resume_and_reconnect() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let user = lab.var("SSH_USER");
        let sshd = PrivateSshd::start(&lab);
        let d = daemon_with_sound(&lab).await;
        sshd.trust_in_home(d.home.path());
        let p = connected_at(&d, &lab, sshd.port, Options::new().set("auto_resume", true)).await;
        let s = p.start(player_session()).await.unwrap();
        let name = s.name().to_owned();
        wait_sound(&s, "pulse").await;
        assert_tone_arrives(&lab, &user, &name, 1, "after start").await;

        s.suspend().await.unwrap();
        wait_sound(&s, "none").await;
        s.resume(Options::new()).await.unwrap();
        wait_sound(&s, "pulse").await;
        assert_tone_arrives(&lab, &user, &name, 2, "after suspend and resume").await;

        // The serving sshd goes, and comes back: x2god reconnects and resumes (auto_resume).
        sshd.kill_all();
        let deadline = Instant::now() + Duration::from_secs(15);
        while p.state().await.unwrap() != ConnectionState::Lost {
            assert!(Instant::now() < deadline, "the loss was not noticed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        sshd.run();
        let s = p.session(&name).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !(p.state().await.unwrap() == ConnectionState::Connected
            && s.sound().await.is_ok_and(|v| v == "pulse"))
        {
            assert!(Instant::now() < deadline, "no sound after the reconnect");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_tone_arrives(&lab, &user, &name, 3, "after a reconnect").await;
        s.terminate().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_users_on_the_server_get_nothing_without_the_sessions_cookie() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let (user, other) = (lab.var("SSH_USER"), lab.var("SSH_USER2"));
        let d = daemon_with_sound(&lab).await;
        let p = connected(&d, &lab, "sound-hostile").await;
        let s = p.start(player_session()).await.unwrap();
        let name = s.name().to_owned();
        wait_sound(&s, "pulse").await;
        let port = sound_port(&p, &name).await;
        let log_before = d.log_text().len();

        // x2gotest2 plays and records through the session's port: with a cookie of its own
        // (random), and with none at all (libpulse makes one up in the empty HOME).
        let rec = Recording::start(&lab);
        let attempt = r#"
            h=$(mktemp -d); cd "$h" || exit 9
            sox -n -r 48000 -c 2 -b 16 tone.wav synth 1 sine 440 vol 0.5 || exit 9
            if [ "$2" = own ]; then head -c 256 /dev/urandom >cookie; export PULSE_COOKIE="$h/cookie"; fi
            export HOME="$h" PULSE_SERVER="tcp:127.0.0.1:$1"
            paplay tone.wav; p=$?
            timeout 3 parec --format=s16le --rate=48000 --channels=2 >rec.raw; r=$?
            echo "paplay=$p parec=$r recorded=$(wc -c <rec.raw)"
            rm -rf "$h"
        "#;
        for cookie in ["own", "none"] {
            let (_, out, err) = as_user(&other, attempt, &[&port.to_string(), cookie]);
            eprintln!("{cookie}: {out}{err}");
            assert!(!out.contains("paplay=0"), "{other} played with cookie {cookie}: {out}{err}");
            assert!(
                out.contains("recorded=0"),
                "{other} recorded the user's sound with cookie {cookie}: {out}{err}"
            );
        }
        // x2gotest2 cannot read the session's cookie either.
        let dir = format!("{}/.x2go/C-{name}", as_user(&user, "printf %s \"$HOME\"", &[]).1);
        assert!(!as_user(&other, "cat \"$1/.pulse-cookie\"", &[&dir]).0);
        let samples = rec.stop();
        assert_eq!(loudest(&samples), 0, "something reached the local sink");
        let log = &d.log_text()[log_before..];
        assert!(
            log.contains("did not present the session's cookie"),
            "the refusals are not in the log"
        );
        // The port is alive all the while: the session's own player is let in.
        assert_tone_arrives(&lab, &user, &name, 1, "beside the refused clients").await;
        s.terminate().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_local_sound_server_the_session_starts_silent_and_says_so() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let missing = tempfile::tempdir().unwrap();
        let socket = missing.path().join("native");
        let cases: [(Vec<(String, String)>, &str); 2] = [
            (Vec::new(), "neither PULSE_SERVER nor XDG_RUNTIME_DIR"),
            (
                vec![("PULSE_SERVER".into(), format!("unix:{}", socket.display()))],
                "does not answer",
            ),
        ];
        for (env, why) in cases {
            let mut all = lab.display_env();
            all.extend(env);
            let d = Daemon::start_with_env(all).await;
            let p = connected(&d, &lab, "silent").await;
            let s = p.start(player_session()).await.unwrap();
            wait_sound(&s, "failed").await;
            let listed = p.list_sessions().await.unwrap();
            assert!(listed.iter().any(|l| l.name == s.name() && l.status == "R"));
            let log = d.log_text();
            assert!(
                log.lines()
                    .any(|l| l.contains("runs without sound") && l.contains(why)),
                "the log does not say why ({why})"
            );
            s.terminate().await.unwrap();
        }
        // Asked for no sound: none, and the legacy systems are refused before anything runs.
        let d = daemon_with_sound(&lab).await;
        let p = connected(&d, &lab, "nosound").await;
        for legacy in ["esd", "arts"] {
            let msg = expect_err(
                p.start(player_session().set("snd_system", legacy)).await,
                "NotSupported",
            );
            assert!(msg.contains(legacy), "{msg}");
        }
        expect_err(
            p.start(player_session().set("snd_system", "alsa")).await,
            "InvalidArgument",
        );
        let s = p
            .start(player_session().set("snd_system", "none"))
            .await
            .unwrap();
        assert_eq!(s.sound().await.unwrap(), "none");
        s.terminate().await.unwrap();
    })
    .await;
}

/// The session pyhoca-cli shows (its `-N`/`-R` run): the newest of the user's.
fn newest_session(lab: &Lab, user: &str) -> Option<String> {
    let mut names = lab.server_sessions(user);
    names.sort_by_key(|n| n.split('-').nth(2).unwrap_or_default().to_owned());
    names.pop()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_keep_their_sound_moving_between_x2god_and_pyhoca_cli() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    // Two pyhoca-cli runs of several seconds each: more time than `bounded` gives.
    tokio::time::timeout(Duration::from_secs(240), async {
        let user = lab.var("SSH_USER");
        let d = daemon_with_sound(&lab).await;
        let p = connected(&d, &lab, "sound-interop").await;

        // Started by x2god, resumed by pyhoca-cli --sound pulse: still plays.
        let s = p.start(player_session()).await.unwrap();
        let name = s.name().to_owned();
        wait_sound(&s, "pulse").await;
        s.suspend().await.unwrap();
        let mut py = Pyhoca::with_sound(&lab);
        let running = || {
            lab.ssh(&user, "x2golistsessions")
                .lines()
                .any(|l| l.contains(&name) && l.split('|').nth(4) == Some("R"))
        };
        py.spawn(&["-R", &name]);
        wait_until("pyhoca-cli to resume", Duration::from_secs(40), running).await;
        // python-x2go sets sound up after the resume: its config names its own cookie.
        tokio::time::sleep(Duration::from_secs(3)).await;
        // pyhoca-cli now and then loses a session it has just resumed (seen once in CI: the
        // agent suspended again 1.3 s after resuming, with x2god sending nothing): that is the
        // reference client, not what this test is about, so it gets one more try.
        if !running() {
            eprintln!(
                "pyhoca-cli lost the session it resumed; again. {}",
                py.logs()
            );
            py.spawn(&["-R", &name]);
            wait_until(
                "pyhoca-cli to resume again",
                Duration::from_secs(40),
                running,
            )
            .await;
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
        assert_tone_arrives(&lab, &user, &name, 1, "resumed by pyhoca-cli").await;
        assert_eq!(
            s.sound().await.unwrap(),
            "none",
            "x2god still claims the sound"
        );

        // Taken back by x2god from pyhoca-cli: x2god's cookie and forward again.
        s.resume(Options::new()).await.unwrap();
        wait_sound(&s, "pulse").await;
        assert_tone_arrives(&lab, &user, &name, 2, "taken back by x2god").await;
        s.terminate().await.unwrap();
        drop(py);

        // Started by pyhoca-cli with sound, taken over by x2god: plays.
        let before = lab.server_sessions(&user);
        let mut py = Pyhoca::with_sound(&lab);
        py.spawn(&["-N", "-c", PLAYER, "-g", "320x240"]);
        wait_until("pyhoca-cli's session", Duration::from_secs(40), || {
            newest_session(&lab, &user).is_some_and(|n| !before.contains(&n))
        })
        .await;
        let theirs = newest_session(&lab, &user).unwrap();
        wait_until("pyhoca-cli's player", Duration::from_secs(30), || {
            as_user(&user, "test -d \"$1\"", &[&player_dir(&user, &theirs)]).0
        })
        .await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_tone_arrives(&lab, &user, &theirs, 1, "in pyhoca-cli's session").await;
        let t = p.session(&theirs).await.unwrap();
        t.resume(Options::new()).await.unwrap();
        wait_sound(&t, "pulse").await;
        assert_tone_arrives(&lab, &user, &theirs, 2, "pyhoca-cli's session in x2god").await;
        t.terminate().await.unwrap();
        drop(py);
    })
    .await
    .expect("test timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snd_port_reaches_the_local_sound_server_over_tcp() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let user = lab.var("SSH_USER");
        // No PULSE_SERVER: only the profile's snd_port leads to the sound server (its TCP
        // module on 127.0.0.1), with the cookie from PULSE_COOKIE.
        let mut env = lab.display_env();
        env.push(("PULSE_COOKIE".into(), lab.var("PULSE_COOKIE")));
        let d = Daemon::start_with_env(env).await;
        let p = connected(&d, &lab, "sound-tcp").await;
        let port: u32 = lab.var("PULSE_TCP_PORT").parse().unwrap();
        let s = p
            .start(player_session().set("snd_port", port))
            .await
            .unwrap();
        wait_sound(&s, "pulse").await;
        assert_tone_arrives(&lab, &user, s.name(), 1, "through snd_port").await;
        s.terminate().await.unwrap();
    })
    .await;
}
