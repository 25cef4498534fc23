//! The crate's errors: [`ClusterError`] (why a cluster run, a node or a cluster file failed),
//! [`HubError`] (what went wrong inside a run, in a hub actor), [`CookieError`] and
//! [`PreauthError`]. Every one keeps its cause as its `source()`; `vecsim_core::message::error_message`
//! prints the chain, each cause once.

use std::path::PathBuf;

/// An error from a function the binary gives this crate (a [`crate::PolicyCodec`], a
/// [`crate::PolicyBuilder`]): boxed, so that this crate need not know the learners' error
/// types, and kept as the `source()` of the error that reports it.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a cluster run could not start or finish.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The cluster file is invalid (its content).
    #[error("cluster file {}: {message}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The cluster file cannot be read.
    #[error("cluster file {}", path.display())]
    ConfigRead {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The cluster file is not TOML of the expected shape. (The parser's own message, which
    /// quotes the offending line whatever its length, is not kept: its short form is, cut.)
    #[error("cluster file {}{}: {message}", path.display(), line.map(|l| format!(", line {l}")).unwrap_or_default())]
    ConfigParse {
        /// The file.
        path: PathBuf,
        /// The line (1-based), when the parser knows it.
        line: Option<usize>,
        /// What is wrong (at most 64 characters of any value it quotes).
        message: String,
    },
    /// The cookie file cannot be used.
    #[error("cookie file {}", path.display())]
    Cookie {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: CookieError,
    },
    /// The tokio runtime could not start.
    #[error("cannot start the tokio runtime")]
    Runtime(#[source] std::io::Error),
    /// This process's node server could not listen.
    #[error("cannot listen on {addr}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        #[source]
        source: BoxError,
    },
    /// A node could not be reached.
    #[error("node {addr} is unreachable: {message}")]
    Unreachable {
        /// The node's address, as in the cluster file.
        addr: String,
        /// Why.
        message: String,
    },
    /// A node closed the connection before authenticating: its cookie differs (or it expects
    /// TLS and the cluster file does not ask for it).
    #[error("node {addr} refused the connection: authentication failed (its cookie differs from the cluster file's, or it expects TLS: `tls_ca` in the cluster file)")]
    Refused {
        /// The node's address.
        addr: String,
    },
    /// The handshake with a node did not complete.
    #[error("node {addr}: handshake failed: {message}")]
    Handshake {
        /// The node's address.
        addr: String,
        /// Why.
        message: String,
    },
    /// A node could not host its RSUs (its own words, which crossed as text).
    #[error("node {addr} could not set up its RSUs: {message}")]
    Setup {
        /// The node's address.
        addr: String,
        /// Why.
        message: String,
    },
    /// A TLS file is unreadable or unusable.
    #[error("TLS file {}: {message}", path.display())]
    Tls {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Something the cluster does not do (yet).
    #[error("not supported on a cluster: {0}")]
    Unsupported(String),
    /// A policy could not be encoded for its trip to a node, or decoded on its way back.
    #[error("RSU {rsu}'s policy cannot travel")]
    Policy {
        /// The RSU whose policy it is.
        rsu: u32,
        /// Why (the codec's error).
        #[source]
        source: BoxError,
    },
    /// A node was lost during a training episode: the learners of the RSUs it hosted, which
    /// travelled to it for the episode, were lost with it.
    #[error("node {addr} was lost in slot {slot}: the learners of its RSUs {rsus:?} were lost with it")]
    LearnersLost {
        /// The node's address.
        addr: String,
        /// The slot in which its session closed.
        slot: u32,
        /// The RSUs it hosted.
        rsus: Vec<u32>,
    },
    /// A message is larger than a process accepts ([`crate::MAX_FRAME_BYTES`]).
    #[error("{what} is {bytes} bytes encoded, over the {limit}-byte frame limit of a cluster session")]
    TooLarge {
        /// The message.
        what: String,
        /// Its encoded size, bytes.
        bytes: usize,
        /// The limit, bytes.
        limit: u64,
    },
    /// The episode cannot run (the engines' own check).
    #[error("the episode cannot run on the cluster")]
    Episode(#[source] vecsim_core::engine::EngineError),
    /// The actor engine on the coordinator (the clock, the VEC POOL) failed.
    #[error("the coordinator's clock failed")]
    Clock(#[source] vecsim_actors::ActorError),
    /// The run failed inside (a hub, an actor, a node's report).
    #[error("cluster run failed")]
    Run(#[source] HubError),
}

impl ClusterError {
    /// Whether the error is in what the user gave (the cluster file, a cookie, a TLS file).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            ClusterError::Config { .. }
                | ClusterError::ConfigRead { .. }
                | ClusterError::ConfigParse { .. }
                | ClusterError::Cookie { .. }
                | ClusterError::Tls { .. }
                | ClusterError::Unsupported(_)
        )
    }
}

impl From<HubError> for ClusterError {
    fn from(e: HubError) -> ClusterError {
        ClusterError::Run(e)
    }
}

/// What is wrong with a cookie file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CookieError {
    /// It cannot be read (or is over its size cap).
    #[error("cannot read it")]
    Read(#[source] std::io::Error),
    /// It holds nothing but whitespace.
    #[error("it is empty")]
    Empty,
    /// It is weak ([`crate::cookie_warnings`]) and weak cookies were not allowed.
    #[error("{}; refused (`--insecure` accepts it with a warning)", reasons.join("; "))]
    Weak {
        /// What is weak about it.
        reasons: Vec<String>,
    },
}

/// What went wrong inside a run, in the coordinator's hub or a node's.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HubError {
    /// A message the protocol does not expect here and now (out of turn, for an RSU or a
    /// vehicle not hosted, of a shape that cannot be).
    #[error("{0}")]
    Protocol(String),
    /// An actor this process sends to has stopped (or its session closed).
    #[error("{to} is gone")]
    Gone {
        /// Which actor.
        to: String,
        /// The messaging error.
        #[source]
        source: BoxError,
    },
    /// An actor could not be started.
    #[error("cannot start {what}")]
    Spawn {
        /// Which actor.
        what: String,
        /// Why.
        #[source]
        source: ractor::SpawnErr,
    },
    /// A file of the run (a checkpoint sent to a node) could not be written.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The scenario a node was sent does not parse.
    #[error("the scenario does not parse")]
    Scenario(#[source] Box<toml::de::Error>),
    /// A policy, a share of the joint record or a policy set could not be built, encoded or
    /// decoded.
    #[error("{what}")]
    Policy {
        /// What was being done.
        what: String,
        /// The codec's or the builder's error.
        #[source]
        source: BoxError,
    },
    /// A node reported a failure (in its words, which crossed as text).
    #[error("node {addr}: {message}")]
    Node {
        /// The node's address.
        addr: String,
        /// What it said.
        message: String,
    },
    /// A message from another process did not decode (a version mismatch, corruption).
    #[error("undecodable message from {from}: {why}")]
    Garbled {
        /// The coordinator, or a node.
        from: &'static str,
        /// The codec's words.
        why: String,
    },
}

impl HubError {
    /// `to` stopped: a send to it failed with `source`.
    /// (`ractor`'s messaging error holds the unsent message, which need not be `Sync`: its
    /// words are kept.)
    pub(crate) fn gone(to: impl Into<String>, source: impl std::fmt::Display) -> HubError {
        HubError::Gone { to: to.into(), source: source.to_string().into() }
    }

    /// Starting `what` failed.
    pub(crate) fn spawn(what: impl Into<String>) -> impl FnOnce(ractor::SpawnErr) -> HubError {
        let what = what.into();
        move |source| HubError::Spawn { what, source }
    }

    /// A policy-codec error while doing `what`.
    pub(crate) fn policy(what: impl Into<String>) -> impl FnOnce(BoxError) -> HubError {
        let what = what.into();
        move |source| HubError::Policy { what, source }
    }
}

impl From<String> for HubError {
    fn from(s: String) -> HubError {
        HubError::Protocol(s)
    }
}

impl From<&str> for HubError {
    fn from(s: &str) -> HubError {
        HubError::Protocol(s.to_string())
    }
}

/// A protocol violation, `format!`-style: `Err(protocol!("RSU {e} is not hosted here"))`.
macro_rules! protocol {
    ($($t:tt)*) => { $crate::error::HubError::Protocol(format!($($t)*)) };
}
pub(crate) use protocol;

/// Why the pre-authentication of a connection failed ([`crate::preauth`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PreauthError {
    /// The connection failed or closed.
    #[error("the connection closed during pre-authentication")]
    Io(#[from] std::io::Error),
    /// The peer does not speak this pre-authentication (not a vecsim process of this version).
    #[error("the peer does not speak vecsim's pre-authentication (another program, or another vecsim version)")]
    NotVecsim,
    /// The peer's proof does not match the cookie.
    #[error("the peer does not know the cookie")]
    WrongCookie,
    /// The peer did not finish in time.
    #[error("no pre-authentication within {0} s")]
    Timeout(u64),
}

#[cfg(test)]
mod tests {
    use super::*;
    use vecsim_core::message::error_message;

    #[test]
    fn the_full_message_names_every_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = ClusterError::Cookie { path: "c".into(), source: CookieError::Read(io) };
        assert_eq!(error_message(&e), "cookie file c: cannot read it: no such file");
        let e = ClusterError::Run(HubError::Node { addr: "a:1".into(), message: "boom".into() });
        assert_eq!(error_message(&e), "cluster run failed: node a:1: boom");
    }
}
