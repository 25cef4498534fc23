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
mod error;
pub mod node;
pub mod preauth;
pub mod tls;
pub mod wire;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use vecsim_actors::ActorOptions;
use vecsim_core::engine::{Engine, EngineError, Episode, EpisodeOutput, RoundReport};
use vecsim_core::ids::RsuId;
use vecsim_core::policy::{Observation, Policy, PolicySet, Share};

pub use error::{BoxError, ClusterError, CookieError, HubError, PreauthError};
pub use node::{run_node, run_node_with, NodeOptions, PolicyBuilder};
pub use tls::{CoordinatorTls, NodeTls};

/// The process group every node's hub joins (how a coordinator finds it after connecting).
pub const NODE_GROUP: &str = "vecsim.node";
/// The coordinator's hub joins this group, suffixed with the run id.
pub const COORDINATOR_GROUP_PREFIX: &str = "vecsim.coordinator.";
/// The largest frame a process accepts from a peer that passed the pre-authentication
/// ([`preauth`]; before, a node reads 80 bytes at most). Sized from the largest legitimate
/// message: a node's set-up carrying a learner's checkpoint files or, for training, its RSUs'
/// learners with their replay buffers, and those learners coming back after the episode.
pub const MAX_FRAME_BYTES: u64 = 1 << 30;
/// The largest encoded message a process sends: [`MAX_FRAME_BYTES`] less room for
/// `ractor_cluster`'s envelope. Checked before sending the large ones (a set-up, the learners
/// coming back), so that the run fails naming the message instead of the receiver dropping
/// the session.
pub const MAX_MESSAGE_BYTES: u64 = MAX_FRAME_BYTES - (1 << 20);

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
    /// What is weak about the cookie file ([`cookie_warnings`]), for the command to print
    /// (only with `insecure`: otherwise a weak cookie is refused).
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
    /// Reads a cluster file and its cookie file. A weak cookie ([`cookie_warnings`]) is refused
    /// unless `insecure` (then its weaknesses are in [`ClusterConfig::warnings`]).
    pub fn load(path: &Path, insecure: bool) -> Result<ClusterConfig, ClusterError> {
        let err = |message: String| ClusterError::Config { path: path.to_path_buf(), message };
        let text =
            vecsim_core::bounded::read_to_string(path, vecsim_core::bounded::CLUSTER_FILE_CAP, "cluster files", "")
                .map_err(|e| ClusterError::ConfigRead { path: path.to_path_buf(), source: e.into_io() })?;
        let f: ConfigFile = toml::from_str(&text).map_err(|e| ClusterError::ConfigParse {
            path: path.to_path_buf(),
            line: e.span().map(|r| text[..r.start.min(text.len())].matches('\n').count() + 1),
            message: shown_long(e.message()),
        })?;
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
        let Cookie { secret: cookie, warnings } = load_cookie(&dir.join(&f.cookie_file), insecure)?;
        let tls = f.tls_ca.map(|ca| CoordinatorTls::load(&dir.join(ca))).transpose()?;
        Ok(ClusterConfig { cookie, nodes: f.nodes.into_iter().map(|n| n.addr).collect(), tls, warnings })
    }
}

/// At most 64 characters of `s`, control characters escaped: safe to echo in an error.
pub(crate) fn shown(s: &str) -> String {
    let mut out: String = s.chars().take(64).flat_map(char::escape_default).collect();
    if s.chars().count() > 64 {
        out.push('…');
    }
    out
}

/// At most 256 characters of `s`, control characters other than newlines escaped.
fn shown_long(s: &str) -> String {
    let mut out: String =
        s.chars().take(256).flat_map(|c| if c == '\n' { vec![c] } else { c.escape_default().collect() }).collect();
    if s.chars().count() > 256 {
        out.push('…');
    }
    out
}

/// What is wrong with a node entry's address.
#[derive(Debug, PartialEq)]
enum AddrProblem {
    NoPort,
    BadHost,
    /// The port as written (cut to 64 characters).
    BadPort(String),
}

impl std::fmt::Display for AddrProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AddrProblem::NoPort => f.write_str("expected HOST:PORT"),
            AddrProblem::BadHost => f.write_str("expected HOST:PORT with a host name or address"),
            AddrProblem::BadPort(p) => write!(f, "port `{p}` is not 1 to 65535"),
        }
    }
}

/// `HOST:PORT` with a non-empty host and a port from 1 to 65535 (`[v6]:PORT` too).
fn check_node_addr(addr: &str) -> Result<(), AddrProblem> {
    let (host, port) = addr.rsplit_once(':').ok_or(AddrProblem::NoPort)?;
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if host.is_empty() || host.len() > 253 || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(AddrProblem::BadHost);
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(()),
        _ => Err(AddrProblem::BadPort(shown(port))),
    }
}

/// Whether two node addresses name the same node: the same text, or the same socket address.
fn same_node(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
        || matches!((a.parse::<std::net::SocketAddr>(), b.parse::<std::net::SocketAddr>()), (Ok(x), Ok(y)) if x == y)
}

/// Shortest cookie accepted without `--insecure`, bytes.
pub const MIN_COOKIE_BYTES: usize = 16;

/// What is weak about a cookie file: readable by other users (group or world permission
/// bits), or a secret shorter than [`MIN_COOKIE_BYTES`]. Empty when neither.
pub fn cookie_warnings(path: &Path, cookie: &str) -> Vec<String> {
    let mut w = Vec::new();
    #[cfg(unix)]
    if let Ok(m) = std::fs::metadata(path) {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = m.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            w.push(format!(
                "it is readable by other users (mode {mode:04o}): anyone who reads it can drive the nodes; chmod 600 {}",
                path.display()
            ));
        }
    }
    if cookie.len() < MIN_COOKIE_BYTES {
        w.push(format!(
            "the cookie is {} bytes: use at least {MIN_COOKIE_BYTES} random bytes (e.g. `head -c 32 /dev/urandom | base64`)",
            cookie.len()
        ));
    }
    w
}

/// Reads a cookie file: its content without surrounding whitespace, which must not be empty.
pub fn read_cookie(path: &Path) -> Result<String, ClusterError> {
    let bad = |source| ClusterError::Cookie { path: path.to_path_buf(), source };
    let c = vecsim_core::bounded::read_to_string(path, vecsim_core::bounded::COOKIE_CAP, "cookie files", "")
        .map_err(|e| bad(CookieError::Read(e.into_io())))?;
    let c = c.trim().to_string();
    if c.is_empty() {
        return Err(bad(CookieError::Empty));
    }
    Ok(c)
}

/// A cookie as [`load_cookie`] accepted it.
#[derive(Clone, Debug)]
pub struct Cookie {
    /// The shared secret.
    pub secret: String,
    /// What is weak about it (only with `insecure`), each naming the file, for the command to
    /// print.
    pub warnings: Vec<String>,
}

/// Reads a cookie file ([`read_cookie`]) and checks it ([`cookie_warnings`]): a weak one is
/// refused ([`CookieError::Weak`]) unless `insecure`, when its weaknesses come back as
/// warnings.
pub fn load_cookie(path: &Path, insecure: bool) -> Result<Cookie, ClusterError> {
    let secret = read_cookie(path)?;
    let reasons = cookie_warnings(path, &secret);
    if !insecure && !reasons.is_empty() {
        return Err(ClusterError::Cookie { path: path.to_path_buf(), source: CookieError::Weak { reasons } });
    }
    let warnings =
        reasons.into_iter().map(|r| format!("cookie file {}: {r} (accepted: --insecure)", path.display())).collect();
    Ok(Cookie { secret, warnings })
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

/// Encodes an RSU's policy for its trip between processes (`Err` for a policy that cannot
/// travel).
pub type PolicyEncoder = Arc<dyn Fn(Box<dyn Policy>) -> Result<Vec<u8>, BoxError> + Send + Sync>;
/// Decodes a policy encoded by the matching [`PolicyEncoder`] (`Err` for bytes that do not
/// decode).
pub type PolicyDecoder = Arc<dyn Fn(&[u8]) -> Result<Box<dyn Policy>, BoxError> + Send + Sync>;

/// Encodes a policy's share of a slot's joint record ([`Policy::share`]) on a node.
pub type ShareEncoder = Arc<dyn Fn(&Share) -> Result<Vec<u8>, BoxError> + Send + Sync>;
/// Decodes a share encoded by the matching [`ShareEncoder`], on a node.
pub type ShareDecoder = Arc<dyn Fn(&[u8]) -> Result<Share, BoxError> + Send + Sync>;

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
/// phase, whose shares the nodes exchange through the coordinator) and whether it decides in
/// turn (the clock then asks the RSUs one at a time) and in how many rounds.
struct Away {
    shares: bool,
    in_turn: bool,
    rounds: u32,
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

    fn decides_in_turn(&self) -> bool {
        self.in_turn
    }

    fn turn_rounds(&self) -> u32 {
        self.rounds
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
                    let (shares, in_turn, rounds) = (p.shares(), p.decides_in_turn(), p.turn_rounds());
                    bytes.push((codec.encode)(p).map_err(|source| ClusterError::Policy { rsu: e as u32, source })?);
                    away.push(Box::new(Away { shares, in_turn, rounds }));
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
                .map(|(e, b)| (codec.decode)(b).map_err(|source| ClusterError::Policy { rsu: e as u32, source }))
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
        let (run, seen) = self.run_episode(ep, &opts).map_err(|e| failed(vecsim_core::message::error_message(&e)))?;
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
            decode: Arc::new(|_| Ok(Box::new(Away { shares: false, in_turn: false, rounds: 1 }) as Box<dyn Policy>)),
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

    fn write(dir: &Path, name: &str, body: &str, mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn a_weak_cookie_is_refused_unless_insecure_and_a_long_value_is_cut() {
        let dir = std::env::temp_dir().join(format!("vecsim-cluster-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        write(&dir, "weak", "short\n", 0o644);
        let cfg = write(&dir, "c.toml", "cookie_file = \"weak\"\n[[nodes]]\naddr = \"127.0.0.1:4000\"\n", 0o600);
        let e = ClusterConfig::load(&cfg, false).unwrap_err();
        let msg = vecsim_core::message::error_message(&e);
        assert!(e.is_bad_input(), "{msg}");
        assert!(msg.contains("mode 0644") && msg.contains("is 5 bytes") && msg.contains("--insecure"), "{msg}");
        let ok = ClusterConfig::load(&cfg, true).unwrap();
        assert_eq!((ok.cookie.as_str(), ok.warnings.len()), ("short", 2));
        write(&dir, "weak", "0123456789abcdef", 0o600);
        let ok = ClusterConfig::load(&cfg, false).unwrap();
        assert!(ok.warnings.is_empty(), "{:?}", ok.warnings);
        // A 100,000-character value where a list belongs: the error quotes at most 256 of them.
        let huge = format!("cookie_file = \"weak\"\nnodes = \"{}\"\n", "x".repeat(100_000));
        let cfg = write(&dir, "huge.toml", &huge, 0o600);
        let msg = vecsim_core::message::error_message(&ClusterConfig::load(&cfg, false).unwrap_err());
        assert!(msg.len() < 1024 && msg.contains("line 2"), "{} characters: {}", msg.len(), &msg[..200.min(msg.len())]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_round_without_travelling_policies_is_refused_before_connecting() {
        let round = RoundRequest { participants: vec![true; 3], weighted: false };
        let policies =
            (0..3).map(|_| Box::new(Away { shares: false, in_turn: false, rounds: 1 }) as Box<dyn Policy>).collect();
        let e = cluster().run(episode(policies, Some(round), &mut NoObserver)).unwrap_err();
        assert!(e.to_string().contains("policies to travel"), "{e}");
    }

    #[test]
    fn policies_that_cannot_travel_are_refused_before_connecting() {
        let mut c = cluster().with_policy_codec(codec(false));
        let policies =
            (0..3).map(|_| Box::new(Away { shares: false, in_turn: false, rounds: 1 }) as Box<dyn Policy>).collect();
        let e = c.run_episode(episode(policies, None, &mut NoObserver), &ActorOptions::default()).err().unwrap();
        assert!(matches!(&e, ClusterError::Policy { rsu: 0, source } if source.to_string() == "no"), "{e}");
        // With policies that travel, the run gets as far as connecting.
        let mut c = cluster().with_policy_codec(codec(true));
        let policies =
            (0..3).map(|_| Box::new(Away { shares: false, in_turn: false, rounds: 1 }) as Box<dyn Policy>).collect();
        let e = c.run_episode(episode(policies, None, &mut NoObserver), &ActorOptions::default()).err().unwrap();
        assert!(matches!(e, ClusterError::Unreachable { .. }), "{e}");
    }
}
