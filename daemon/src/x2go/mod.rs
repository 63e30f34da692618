//! The pure X2Go protocol layer: validation of every value that may reach a remote shell,
//! construction of remote command lines, the exec envelope, and parsers for server output.
//!
//! Nothing here performs I/O, knows SSH or D-Bus, or panics on outside data; the control layer
//! feeds it strings and bytes and sends what it builds. Keeping it pure makes it cheap to test
//! exhaustively (unit tests plus property tests in every module).

mod scripts;

pub mod apps;
pub mod command;
pub mod envelope;
pub mod keyboard;
pub mod list;
pub mod output;
pub mod proxy;
pub mod server_info;
pub mod session_options;
pub mod share;
pub mod sound;
pub mod start;
pub mod start_failure;
pub mod tokens;
pub mod validate;
pub mod watch;

pub use command::RemoteCommand;
pub use envelope::{Envelope, EnvelopeError};
pub use list::{Listing, SessionInfo, SessionStatus, SkippedLine, XCookie, parse_listing};
pub use output::UnexpectedOutput;
pub use proxy::{nxproxy_options, nxproxy_options_arg};
pub use session_options::{
    ColorDepth, Pack, ResumeArgs, SessionCommand, SessionType, StartAgentArgs,
};
pub use share::{MountFailure, ShareKind, SharePath, parse_mount_result};
pub use start::{
    AgentState, ResumedPorts, StartedAgent, parse_agent_state, parse_resume, parse_start_agent,
};
pub use validate::{
    Clipboard, Display, Dpi, Geometry, InvalidArgument, KeyboardSetting, Link, SessionKind,
    SessionName, ShadowTarget, Username,
};
pub use watch::{
    ListMarker, WatchEvent, list_request, parse_list_marker, parse_watch_line, watch_line,
};
