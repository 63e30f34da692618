//! The sound system of a session (doc §3.6): argument 6 of `x2goruncommand`.

use super::validate::InvalidArgument;

/// How a session's sound reaches the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SoundSystem {
    /// No sound.
    #[default]
    None,
    /// PulseAudio: the session's pulse clients connect to its sound port, which the client
    /// forwards to its own sound server.
    Pulse,
}

/// Sound systems X2Go knows that x2god does not offer: they need a local daemon of the same
/// kind (EsounD, aRts), which no current desktop runs.
pub const LEGACY_SOUND_SYSTEMS: [&str; 2] = ["esd", "arts"];

impl SoundSystem {
    /// `pulse` or `none` (`esd`/`arts` are refused here; the caller tells them apart by
    /// [`LEGACY_SOUND_SYSTEMS`]).
    pub fn parse(s: &str) -> Result<Self, InvalidArgument> {
        match s {
            "pulse" => Ok(Self::Pulse),
            "none" => Ok(Self::None),
            _ => Err(InvalidArgument::new(
                "sound system",
                s,
                "expected pulse or none",
            )),
        }
    }

    /// The argument `x2goruncommand` takes.
    pub fn as_arg(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Pulse => "pulse",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sound_systems() {
        assert_eq!(SoundSystem::parse("pulse"), Ok(SoundSystem::Pulse));
        assert_eq!(
            SoundSystem::parse("none").map(SoundSystem::as_arg),
            Ok("none")
        );
        for bad in ["esd", "arts", "Pulse", "", "pulse;id"] {
            assert!(SoundSystem::parse(bad).is_err(), "{bad}");
        }
    }
}
