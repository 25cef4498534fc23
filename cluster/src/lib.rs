//! # vecsim-cluster
//!
//! RSU groups on several processes and hosts, with the ractor ecosystem's own distribution
//! layer, [`ractor_cluster`]. A coordinator (`vecsim run SCENARIO --cluster CLUSTER.toml`)
//! runs the clock, the vehicle actors and the VEC POOL; worker nodes (`vecsim node`) host the
//! RSU actors, in contiguous groups ([`coordinator::assign`]). The slot protocol is the actor
//! engine's ([`vecsim_actors::protocol`]), unchanged: the RSU actors are the engine's own, and
//! messages that cross processes are encoded with [`vecsim_core::codec`] ([`wire`]).
//!
//! Determinism: every receiver still sorts by id and every phase still closes on counts, so
//! one process and several nodes give byte-identical reports (tested in `tests/e2e/cluster.rs`).
//!
//! Faults: a node whose session closes mid-run is handled by the coordinator's hub (its RSUs
//! become an outage, the tasks it held end as `node_lost`; see [`coordinator`]). A node that
//! refuses the cookie and a node that cannot be reached are errors naming the node.

pub mod coordinator;
pub mod node;
pub mod wire;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use vecsim_actors::ActorOptions;
use vecsim_core::engine::{Engine, EngineError, Episode, EpisodeOutput};

pub use node::{run_node, run_node_with, PolicyBuilder};

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
    /// A node closed the connection before authenticating: its cookie differs.
    #[error("node {addr} refused the connection: authentication failed (its cookie differs from the cluster file's)")]
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
    /// Something the cluster does not do (yet).
    #[error("not supported on a cluster: {0}")]
    Unsupported(String),
    /// The run failed.
    #[error("cluster run failed: {0}")]
    Failed(String),
}

impl ClusterError {
    /// Whether the error is in what the user gave (the cluster file, a node's address or cookie).
    pub fn is_bad_input(&self) -> bool {
        matches!(self, ClusterError::Config { .. } | ClusterError::Unsupported(_))
    }
}

/// A cluster file: `cookie_file = "PATH"` (relative to the file) and one `[[nodes]]` table per
/// node with `addr = "HOST:PORT"`.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// The shared secret (the cookie file's content, surrounding whitespace removed).
    pub cookie: String,
    /// The nodes' addresses, in order (RSU groups are assigned in this order).
    pub nodes: Vec<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    cookie_file: PathBuf,
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
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let f: ConfigFile = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
        if f.nodes.is_empty() {
            return Err(err("no [[nodes]]".into()));
        }
        let cookie_path = path.parent().unwrap_or(Path::new(".")).join(&f.cookie_file);
        let cookie = read_cookie(&cookie_path).map_err(err)?;
        Ok(ClusterConfig { cookie, nodes: f.nodes.into_iter().map(|n| n.addr).collect() })
    }
}

/// Reads a cookie file: its content without surrounding whitespace, which must not be empty.
pub fn read_cookie(path: &Path) -> Result<String, String> {
    let c = std::fs::read_to_string(path).map_err(|e| format!("cookie file {}: {e}", path.display()))?;
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
}

/// The engine's name in messages and metrics.
pub const ENGINE_NAME: &str = "cluster";

/// The actor engine with its RSUs on the nodes of a cluster file, as an [`Engine`].
pub struct Cluster {
    cfg: ClusterConfig,
    threads: usize,
    checkpoint: Option<Vec<(String, Vec<u8>)>>,
    losses: Arc<Mutex<Vec<NodeLoss>>>,
}

impl Cluster {
    /// A coordinator for `cfg` on `threads` tokio workers.
    pub fn new(cfg: ClusterConfig, threads: usize) -> Cluster {
        Cluster { cfg, threads: threads.max(1), checkpoint: None, losses: Arc::default() }
    }

    /// Sends the files of a learner's checkpoint directory to the nodes, which build their RSUs'
    /// policies from them.
    pub fn with_checkpoint(mut self, dir: &Path) -> std::io::Result<Cluster> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                files.push((entry.file_name().to_string_lossy().into_owned(), std::fs::read(entry.path())?));
            }
        }
        files.sort();
        self.checkpoint = Some(files);
        Ok(self)
    }

    /// The nodes lost so far (shared: read it after a run).
    pub fn losses(&self) -> Arc<Mutex<Vec<NodeLoss>>> {
        self.losses.clone()
    }

    /// Runs one episode on the cluster.
    pub fn run_episode(
        &mut self,
        ep: Episode<'_>,
        opts: &ActorOptions,
    ) -> Result<(vecsim_actors::ActorRun, Vec<NodeLoss>), ClusterError> {
        let rt = vecsim_actors::runtime(self.threads).map_err(ClusterError::Runtime)?;
        let Episode { scenario, fleet, policies, round: _, observer } = ep;
        rt.block_on(coordinator::run_cluster(
            &self.cfg,
            scenario,
            fleet,
            policies,
            self.checkpoint.clone(),
            opts,
            observer,
        ))
    }
}

impl Engine for Cluster {
    fn name(&self) -> &'static str {
        ENGINE_NAME
    }

    fn run(&mut self, ep: Episode<'_>) -> Result<EpisodeOutput, EngineError> {
        if ep.round.is_some() {
            return Err(EngineError::Failed {
                engine: ENGINE_NAME,
                message: "training episodes (VEC POOL rounds) are not supported on a cluster yet".into(),
            });
        }
        let opts = ActorOptions { threads: self.threads, ..Default::default() };
        let (run, losses) = self
            .run_episode(ep, &opts)
            .map_err(|e| EngineError::Failed { engine: ENGINE_NAME, message: e.to_string() })?;
        self.losses.lock().unwrap_or_else(|p| p.into_inner()).extend(losses);
        Ok(EpisodeOutput { stats: run.stats, policies: run.policies, round: None })
    }
}
