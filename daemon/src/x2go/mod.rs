//! The pure X2Go protocol layer: validation of every value that may reach a remote shell,
//! construction of remote command lines, the exec envelope, and parsers for server output.
//!
//! Nothing here performs I/O, knows SSH or D-Bus, or panics on outside data; the control layer
//! feeds it strings and bytes and sends what it builds. Keeping it pure makes it cheap to test
//! exhaustively (unit tests plus property tests in every module).

pub mod command;
pub mod envelope;
pub mod list;
pub mod server_info;
pub mod validate;

pub use command::RemoteCommand;
pub use envelope::{Envelope, EnvelopeError};
pub use list::{Listing, SessionInfo, SessionStatus, SkippedLine, XCookie, parse_listing};
pub use validate::{
    Clipboard, Display, Dpi, Geometry, InvalidArgument, KeyboardSetting, Link, SessionKind,
    SessionName, ShadowTarget, Username,
};
