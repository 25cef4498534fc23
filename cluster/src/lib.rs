//! # vecsim-cluster
//!
//! RSU groups on several processes and hosts, with the ractor ecosystem's own distribution
//! layer, [`ractor_cluster`]. A coordinator (`vecsim run SCENARIO --cluster CLUSTER.toml`)
//! runs the clock and the VEC POOL; worker nodes (`vecsim node`) host the RSU actors, in
//! contiguous groups ([`coordinator::assign`]), and the vehicle actors homed to them (each on
//! the node of its nearest RSU, handed over between nodes as it moves). The slot protocol is
//! the actor engine's ([`vecsim_actors::protocol`]), unchanged: the RSU and vehicle actors are
//! the engine's own, and messages that cross processes are encoded with [`vecsim_core::codec`]
//! ([`wire`]).
//!
//! Training (`vecsim train --cluster`): with a [`PolicyCodec`] ([`Cluster::with_policy_codec`]),
//! each RSU's policy (a learner) travels to its node with the episode's set-up and comes back
//! after the last slot and the VEC POOL round, whose messages cross processes like the others.
//!
//! Determinism: every receiver still sorts by id and every phase still closes on counts, so
//! one process and several nodes give byte-identical reports (tested in `tests/e2e/cluster.rs`).
//!
//! Faults: a node whose session closes mid-run is handled by the coordinator's hub (its RSUs
//! become an outage, the tasks it held end as `node_lost`, its vehicles are replayed and homed
//! on the other nodes; see [`coordinator`]). A node that
//! refuses the cookie and a node that cannot be reached are errors naming the node.

pub mod coordinator;
pub mod node;
pub mod tls;
pub mod wire;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use vecsim_actors::ActorOptions;
use vecsim_core::engine::{Engine, EngineError, Episode, EpisodeOutput, RoundReport};
use vecsim_core::ids::RsuId;
use vecsim_core::policy::{Observation, Policy, PolicySet, Share};

pub use node::{run_node, run_node_with, NodeOptions, PolicyBuilder};
pub use tls::{CoordinatorTls, NodeTls};

/// The process group every node's hub joins (how a coordinator finds it after connecting).
pub const NODE_GROUP: &str = "vecsim.node";
/// The coordinator's hub joins this group, suffixed with the run id.
pub const COORDINATOR_GROUP_PREFIX: &str = "vecsim.coordinator.";
/// The largest frame a process accepts (a learner's checkpoint travels in one).
pub const MAX_FRAME_BYTES: u64 = 1 << 30;

/// Why a cluster run could not start or finish.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The cluster file is unreadable or invalid.
    #[error("cluster file {}: {message}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The tokio runtime could not start.
    #[error("cannot start the tokio runtime")]
    Runtime(#[source] std::io::Error),
    /// This process's node server could not listen.
    #[error("cannot listen on {addr}: {message}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        message: String,
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
    /// A node could not host its RSUs.
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
    #[error("RSU {rsu}'s policy cannot travel: {message}")]
    Policy {
        /// The RSU whose policy it is.
        rsu: u32,
        /// Why.
        message: String,
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
    /// The run failed.
    #[error("cluster run failed: {0}")]
    Failed(String),
}

impl ClusterError {
    /// Whether the error is in what the user gave (the cluster file, a node's address or cookie).
    pub fn is_bad_input(&self) -> bool {
        matches!(self, ClusterError::Config { .. } | ClusterError::Tls { .. } | ClusterError::Unsupported(_))
    }
}

/// A cluster file: `cookie_file = "PATH"` (relative to the file), optionally `tls_ca = "PATH"`
/// (connect to the nodes over TLS, trusting this certificate authority; see [`tls`]), and one
/// `[[nodes]]` table per node with `addr = "HOST:PORT"`.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// The shared secret (the cookie file's content, surrounding whitespace removed).
    pub cookie: String,
    /// The nodes' addresses, in order (RSU groups are assigned in this order).
    pub nodes: Vec<String>,
    /// TLS to every node (`None`: plain TCP).
    pub tls: Option<CoordinatorTls>,
    /// What is weak about the cookie file ([`cookie_warnings`]), for the command to print.
    pub warnings: Vec<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    cookie_file: PathBuf,
    tls_ca: Option<PathBuf>,
    nodes: Vec<NodeEntry>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeEntry {
    addr: String,
}

impl ClusterConfig {
    /// Reads a cluster file and its cookie file.
    pub fn load(path: &Path) -> Result<ClusterConfig, ClusterError> {
        let err = |message: String| ClusterError::Config { path: path.to_path_buf(), message };
        let text =
            vecsim_core::bounded::read_to_string(path, vecsim_core::bounded::CLUSTER_FILE_CAP, "cluster files", "")
                .map_err(|e| err(e.into_io().to_string()))?;
        let f: ConfigFile = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
        if f.nodes.is_empty() {
            return Err(err("no [[nodes]]".into()));
        }
        // Each node once, each a HOST:PORT: a node listed twice would be asked to host two
        // shares of one run (its second session fails authentication mid-run).
        for (i, n) in f.nodes.iter().enumerate() {
            check_node_addr(&n.addr).map_err(|m| err(format!("nodes[{i}] (addr = {:?}): {m}", shown(&n.addr))))?;
            if let Some(j) = f.nodes[..i].iter().position(|o| same_node(&o.addr, &n.addr)) {
                return Err(err(format!(
                    "nodes[{i}] (addr = {:?}) is the node of nodes[{j}] (addr = {:?}): list each node once",
                    shown(&n.addr),
                    shown(&f.nodes[j].addr)
                )));
            }
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        let cookie_path = dir.join(&f.cookie_file);
        let cookie = read_cookie(&cookie_path).map_err(err)?;
        let warnings = cookie_warnings(&cookie_path, &cookie);
        let tls = f.tls_ca.map(|ca| CoordinatorTls::load(&dir.join(ca))).transpose()?;
        Ok(ClusterConfig { cookie, nodes: f.nodes.into_iter().map(|n| n.addr).collect(), tls, warnings })
    }
}

/// At most 64 characters of `s`, control characters escaped: safe to echo in an error.
fn shown(s: &str) -> String {
    let mut out: String = s.chars().take(64).flat_map(char::escape_default).collect();
    if s.chars().count() > 64 {
        out.push('…');
    }
    out
}

/// `HOST:PORT` with a non-empty host and a port from 1 to 65535 (`[v6]:PORT` too).
fn check_node_addr(addr: &str) -> Result<(), String> {
    let (host, port) = addr.rsplit_once(':').ok_or("expected HOST:PORT")?;
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if host.is_empty() || host.len() > 253 || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("expected HOST:PORT with a host name or address".into());
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(()),
        _ => Err(format!("port `{}` is not 1 to 65535", shown(port))),
    }
}

/// Whether two node addresses name the same node: the same text, or the same socket address.
fn same_node(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
        || matches!((a.parse::<std::net::SocketAddr>(), b.parse::<std::net::SocketAddr>()), (Ok(x), Ok(y)) if x == y)
}

/// Shortest cookie without a warning, bytes.
pub const MIN_COOKIE_BYTES: usize = 16;

/// What is weak about a cookie file: readable by other users (group or world permission
/// bits), or a secret shorter than [`MIN_COOKIE_BYTES`]. Empty when neither; a command prints
/// these as warnings.
pub fn cookie_warnings(path: &Path, cookie: &str) -> Vec<String> {
    let mut w = Vec::new();
    #[cfg(unix)]
    if let Ok(m) = std::fs::metadata(path) {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = m.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            w.push(format!(
                "cookie file {} is readable by other users (mode {mode:04o}): anyone who reads it can drive the nodes; chmod 600 {}",
                path.display(),
                path.display()
            ));
        }
    }
    if cookie.len() < MIN_COOKIE_BYTES {
        w.push(format!(
            "cookie in {} is {} bytes: use at least {MIN_COOKIE_BYTES} random bytes (e.g. `head -c 32 /dev/urandom | base64`)",
            path.display(),
            cookie.len()
        ));
    }
    w
}

/// Reads a cookie file: its content without surrounding whitespace, which must not be empty.
pub fn read_cookie(path: &Path) -> Result<String, String> {
    let c = vecsim_core::bounded::read_to_string(path, vecsim_core::bounded::COOKIE_CAP, "cookie files", "")
        .map_err(|e| format!("cookie file {}: {}", path.display(), e.into_io()))?;
    let c = c.trim().to_string();
    if c.is_empty() {
        return Err(format!("cookie file {} is empty", path.display()));
    }
    Ok(c)
}

/// A node lost during a run.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeLoss {
    /// The node's address.
    pub addr: String,
    /// The slot in which its session closed.
    pub slot: u32,
    /// The RSUs it hosted (an outage from then on).
    pub rsus: Vec<u32>,
    /// Tasks it held when it was lost, counted with the cause `node_lost`.
    pub tasks: u64,
    /// Vehicles it hosted, recovered by the coordinator (replayed from their own random
    /// streams) and hosted by the nodes left.
    pub vehicles: u64,
}

/// What a [`Cluster`] saw beyond the reports, over its episodes so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterReport {
    /// The nodes lost.
    pub losses: Vec<NodeLoss>,
    /// Vehicles handed over between nodes (a vehicle whose home moved to an RSU on another
    /// node, once per move).
    pub handovers: u64,
}

/// The engine's name in messages and metrics.
pub const ENGINE_NAME: &str = "cluster";

/// Encodes an RSU's policy for its trip between processes (`Err(why)` for a policy that cannot
/// travel).
pub type PolicyEncoder = Arc<dyn Fn(Box<dyn Policy>) -> Result<Vec<u8>, String> + Send + Sync>;
/// Decodes a policy encoded by the matching [`PolicyEncoder`] (`Err(why)` for bytes that do not
/// decode).
pub type PolicyDecoder = Arc<dyn Fn(&[u8]) -> Result<Box<dyn Policy>, String> + Send + Sync>;

/// Encodes a policy's share of a slot's joint record ([`Policy::share`]) on a node.
pub type ShareEncoder = Arc<dyn Fn(&Share) -> Result<Vec<u8>, String> + Send + Sync>;
/// Decodes a share encoded by the matching [`ShareEncoder`], on a node.
pub type ShareDecoder = Arc<dyn Fn(&[u8]) -> Result<Share, String> + Send + Sync>;

/// How RSU policies travel between the coordinator and the nodes (a learner's whole state,
/// for a training episode). The binary provides it, so that this crate does not depend on the
/// learners: the coordinator encodes each RSU's policy and ships it to the node hosting the
/// RSU, the node decodes it into the RSU actor, and after the episode's last slot (and its
/// VEC POOL round) the node encodes it again and sends it back. Centralised learners also
/// exchange shares of every slot's joint record: a node encodes its RSUs' shares, the
/// coordinator passes the bytes on as they are, and every node decodes them for its RSUs.
#[derive(Clone)]
pub struct PolicyCodec {
    /// Policy → bytes.
    pub encode: PolicyEncoder,
    /// Bytes → policy.
    pub decode: PolicyDecoder,
    /// Share → bytes.
    pub encode_share: ShareEncoder,
    /// Bytes → share.
    pub decode_share: ShareDecoder,
}

impl std::fmt::Debug for PolicyCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PolicyCodec")
    }
}

/// What the coordinator's clock holds in place of an RSU's policy while the policy is on the
/// RSU's node: the clock never asks a remote RSU's policy to decide, and [`Cluster`] replaces
/// these with the policies that come back. Were it asked, every task would stay where it was
/// uploaded. It says whether the policy it stands for shares (the clock then runs the joint
/// phase, whose shares the nodes exchange through the coordinator).
struct Away {
    shares: bool,
}

impl Policy for Away {
    fn name(&self) -> &'static str {
        "away"
    }

    fn decide(&mut self, obs: &Observation<'_>) -> Vec<RsuId> {
        vec![obs.rsu; obs.tasks.len()]
    }

    fn shares(&self) -> bool {
        self.shares
    }
}

/// The actor engine with its RSUs on the nodes of a cluster file, as an [`Engine`].
pub struct Cluster {
    cfg: ClusterConfig,
    threads: usize,
    checkpoint: Option<Vec<(String, Vec<u8>)>>,
    codec: Option<PolicyCodec>,
    report: Arc<Mutex<ClusterReport>>,
}

impl Cluster {
    /// A coordinator for `cfg` on `threads` tokio workers.
    pub fn new(cfg: ClusterConfig, threads: usize) -> Cluster {
        Cluster { cfg, threads: threads.max(1), checkpoint: None, codec: None, report: Arc::default() }
    }

    /// Sends the files of a learner's checkpoint directory to the nodes, which build their RSUs'
    /// policies from them; each file of at most `cap` bytes.
    pub fn with_checkpoint(mut self, dir: &Path, cap: u64) -> std::io::Result<Cluster> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                let bytes = vecsim_core::bounded::read(&entry.path(), cap, "checkpoints", " (raise --max-memory)")
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
                files.push((entry.file_name().to_string_lossy().into_owned(), bytes));
            }
        }
        files.sort();
        self.checkpoint = Some(files);
        Ok(self)
    }

    /// Ships every RSU's policy to its node for each episode, encoded with `codec`, and takes
    /// it back after the episode's last slot and its VEC POOL round (training: the learners
    /// travel; the episode's output holds them as they came back). Without it, the nodes build
    /// their RSUs' policies themselves (a baseline, or a learner from the checkpoint shipped with
    /// [`Cluster::with_checkpoint`]) and VEC POOL rounds are refused.
    pub fn with_policy_codec(mut self, codec: PolicyCodec) -> Cluster {
        self.codec = Some(codec);
        self
    }

    /// The nodes lost and the vehicle handovers so far (shared: read it after a run).
    pub fn report(&self) -> Arc<Mutex<ClusterReport>> {
        self.report.clone()
    }

    /// Runs one episode on the cluster. With a [`PolicyCodec`], the episode's policies travel
    /// to the nodes and the returned run holds them as they came back; without one, the run
    /// returns the policies it was given (the nodes ran their own).
    pub fn run_episode(
        &mut self,
        ep: Episode<'_>,
        opts: &ActorOptions,
    ) -> Result<(vecsim_actors::ActorRun, ClusterReport), ClusterError> {
        let rt = vecsim_actors::runtime(self.threads).map_err(ClusterError::Runtime)?;
        let Episode { scenario, fleet, policies, round: _, observer } = ep;
        let (policies, shipped) = match &self.codec {
            None => (policies, None),
            Some(codec) => {
                let PolicySet { per_rsu, refiner } = policies;
                let mut bytes = Vec::with_capacity(per_rsu.len());
                let mut away: Vec<Box<dyn Policy>> = Vec::with_capacity(per_rsu.len());
                for (e, p) in per_rsu.into_iter().enumerate() {
                    let shares = p.shares();
                    bytes.push((codec.encode)(p).map_err(|message| ClusterError::Policy { rsu: e as u32, message })?);
                    away.push(Box::new(Away { shares }));
                }
                (PolicySet { per_rsu: away, refiner }, Some(bytes))
            }
        };
        let out = rt.block_on(coordinator::run_cluster(
            &self.cfg,
            scenario,
            fleet,
            policies,
            self.checkpoint.clone(),
            shipped,
            opts,
            observer,
        ))?;
        let mut run = out.run;
        if let (Some(codec), Some(back)) = (&self.codec, out.policies) {
            run.policies = back
                .iter()
                .enumerate()
                .map(|(e, b)| (codec.decode)(b).map_err(|message| ClusterError::Policy { rsu: e as u32, message }))
                .collect::<Result<_, _>>()?;
        }
        Ok((run, ClusterReport { losses: out.losses, handovers: out.handovers }))
    }
}

impl Engine for Cluster {
    fn name(&self) -> &'static str {
        ENGINE_NAME
    }

    fn run(&mut self, ep: Episode<'_>) -> Result<EpisodeOutput, EngineError> {
        let failed = |message: String| EngineError::Failed { engine: ENGINE_NAME, message };
        if ep.round.is_some() && self.codec.is_none() {
            return Err(failed(
                "a VEC POOL round on a cluster needs the RSUs' policies to travel to the nodes (Cluster::with_policy_codec)"
                    .into(),
            ));
        }
        let slots = ep.scenario.time.slots;
        let opts = ActorOptions {
            threads: self.threads,
            // One round, after the last slot, with the participants the trainer chose.
            pool_every: ep.round.as_ref().map(|_| slots),
            pool_participants: ep.round.as_ref().map(|r| r.participants.clone()),
            weighted_fedavg: ep.round.as_ref().is_some_and(|r| r.weighted),
            ..Default::default()
        };
        let (run, seen) = self.run_episode(ep, &opts).map_err(|e| failed(e.to_string()))?;
        let mut report = self.report.lock().unwrap_or_else(|p| p.into_inner());
        report.losses.extend(seen.losses);
        report.handovers += seen.handovers;
        drop(report);
        if run.rounds.len() > 1 {
            return Err(failed(format!("{} VEC POOL rounds in one episode", run.rounds.len())));
        }
        let round =
            run.rounds.into_iter().next().map(|o| RoundReport { contributed: o.contributed, skipped: o.skipped });
        Ok(EpisodeOutput { stats: run.stats, policies: run.policies, round })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vecsim_core::engine::RoundRequest;
    use vecsim_core::mobility::Fleet;
    use vecsim_core::observer::NoObserver;
    use vecsim_core::Scenario;

    /// A cluster whose only node nobody listens on: any attempt to connect fails as unreachable,
    /// so an error of another kind was found before connecting.
    fn cluster() -> Cluster {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Cluster::new(
            ClusterConfig {
                cookie: "c".into(),
                nodes: vec![format!("127.0.0.1:{port}")],
                tls: None,
                warnings: Vec::new(),
            },
            1,
        )
    }

    fn scenario() -> Arc<Scenario> {
        Arc::new(Scenario::parse(include_str!("../../tests/fixtures/train-small.toml")).unwrap())
    }

    fn codec(encodes: bool) -> PolicyCodec {
        PolicyCodec {
            encode: Arc::new(move |p| if encodes { Ok(p.name().as_bytes().to_vec()) } else { Err("no".into()) }),
            decode: Arc::new(|_| Ok(Box::new(Away { shares: false }) as Box<dyn Policy>)),
            encode_share: Arc::new(|_| Err("no shares here".into())),
            decode_share: Arc::new(|_| Err("no shares here".into())),
        }
    }

    fn episode<'a>(
        policies: Vec<Box<dyn Policy>>,
        round: Option<RoundRequest>,
        observer: &'a mut NoObserver,
    ) -> Episode<'a> {
        let scenario = scenario();
        Episode { scenario, fleet: Fleet::from_named(Vec::new()), policies: PolicySet::new(policies), round, observer }
    }

    #[test]
    fn a_round_without_travelling_policies_is_refused_before_connecting() {
        let round = RoundRequest { participants: vec![true; 3], weighted: false };
        let policies = (0..3).map(|_| Box::new(Away { shares: false }) as Box<dyn Policy>).collect();
        let e = cluster().run(episode(policies, Some(round), &mut NoObserver)).unwrap_err();
        assert!(e.to_string().contains("policies to travel"), "{e}");
    }

    #[test]
    fn policies_that_cannot_travel_are_refused_before_connecting() {
        let mut c = cluster().with_policy_codec(codec(false));
        let policies = (0..3).map(|_| Box::new(Away { shares: false }) as Box<dyn Policy>).collect();
        let e = c.run_episode(episode(policies, None, &mut NoObserver), &ActorOptions::default()).err().unwrap();
        assert!(matches!(&e, ClusterError::Policy { rsu: 0, message } if message == "no"), "{e}");
        // With policies that travel, the run gets as far as connecting.
        let mut c = cluster().with_policy_codec(codec(true));
        let policies = (0..3).map(|_| Box::new(Away { shares: false }) as Box<dyn Policy>).collect();
        let e = c.run_episode(episode(policies, None, &mut NoObserver), &ActorOptions::default()).err().unwrap();
        assert!(matches!(e, ClusterError::Unreachable { .. }), "{e}");
    }
}
