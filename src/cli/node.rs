//! `vecsim node`: a worker node of a cluster run (see `vecsim run --cluster`).

use super::bad;
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use vecsim::pipeline;

#[derive(Args, Debug, Clone)]
pub(crate) struct NodeArgs {
    /// Address to listen on for coordinators, `HOST:PORT` (e.g. `0.0.0.0:4000`; a loopback
    /// address keeps it to this host).
    #[arg(long)]
    pub listen: SocketAddr,
    /// File holding the cluster's shared secret: only a coordinator with the same cookie is
    /// accepted. The cookie authenticates; it does not encrypt the traffic.
    #[arg(long)]
    pub cookie_file: PathBuf,
    /// Accept coordinators over TLS only, presenting this certificate chain (PEM); the cluster
    /// file's `tls_ca` must be its certificate authority, and the certificate must name the
    /// host of this node's address in the cluster file. Needs `--tls-key`.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of `--tls-cert` (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Tokio worker threads (vehicles, messages), and as many threads again that the RSU actors
    /// hosted here are pinned to (their learners train in parallel); the numbers never depend
    /// on it.
    #[arg(long, default_value_t = 2, value_parser = super::engine_args::parse_threads)]
    pub threads: usize,
    /// Accept a weak cookie file (readable by other users, or a secret under 16 bytes) with a
    /// warning, instead of refusing it.
    #[arg(long)]
    pub insecure: bool,
    /// Fault tests: exit abruptly, as if killed, when told to begin this slot.
    #[arg(long, hide = true)]
    pub die_at_slot: Option<u32>,
}

pub(super) fn node(a: NodeArgs) -> anyhow::Result<ExitCode> {
    let cookie =
        vecsim_cluster::load_cookie(&a.cookie_file, a.insecure).map_err(|e| bad(vecsim::message::error_message(&e)))?;
    for w in &cookie.warnings {
        eprintln!("warning: {w}");
    }
    let cookie = cookie.secret;
    // The policies of the RSUs hosted here, built as `vecsim run` builds them.
    let build: vecsim_cluster::PolicyBuilder =
        Arc::new(|s, checkpoint| pipeline::build_policies(s, checkpoint).map_err(Into::into));
    // Learners that travel here for a training episode (`vecsim train --cluster`) and back.
    let codec = Some(pipeline::learner_codec());
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(cert), Some(key)) => {
            Some(vecsim_cluster::NodeTls::load(cert, key).map_err(|e| bad(vecsim::message::error_message(&e)))?)
        }
        _ => None,
    };
    let opts = vecsim_cluster::NodeOptions { threads: a.threads, tls, die_at_slot: a.die_at_slot };
    vecsim_cluster::run_node_with(a.listen, cookie, build, codec, opts, |addr| {
        // On stdout, as data: `vecsim bench cluster` reads this line to know the node is up. A
        // node whose stdout is gone keeps serving.
        let _ = super::output::outln!("vecsim node listening on {addr}");
        let _ = super::output::flush_out();
    })?;
    Ok(ExitCode::SUCCESS)
}
