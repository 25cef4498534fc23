//! `vecsim bench cluster SCENARIO`: vehicle-slots per second of one process and of the same
//! run with its RSUs on local `vecsim node` processes, in one invocation.

use super::output::outln;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};
use vecsim::pipeline;
use vecsim_core::observer::NoObserver;
use vecsim_core::overrides::Overrides;

/// Local node processes, killed when dropped.
struct Nodes(Vec<Child>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn start_nodes(n: usize, cookie_file: &std::path::Path, threads: usize) -> anyhow::Result<(Nodes, Vec<String>)> {
    let exe = std::env::current_exe()?;
    let mut nodes = Nodes(Vec::new());
    let mut addrs = Vec::new();
    for _ in 0..n {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr = format!("127.0.0.1:{port}");
        let mut child = Command::new(&exe)
            .args(["node", "--listen", &addr, "--cookie-file"])
            .arg(cookie_file)
            .args(["--threads", &threads.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let out = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout from vecsim node"))?;
        nodes.0.push(child);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(out).read_line(&mut line);
            let _ = tx.send(line);
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(l) if l.contains("listening on") => addrs.push(addr),
            _ => anyhow::bail!("vecsim node on {addr} did not start"),
        }
    }
    Ok((nodes, addrs))
}

pub(super) fn cluster(
    name: &str,
    slots: Option<u32>,
    nodes: usize,
    threads: usize,
    limits: &pipeline::Limits,
) -> anyhow::Result<ExitCode> {
    let s = pipeline::load_scenario(name, &Overrides { slots, ..Default::default() })?;
    let fleet = pipeline::load_fleet(&s, None, limits)?;
    let dir = std::env::temp_dir().join(format!("vecsim-bench-cluster-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let cookie_file = dir.join("cookie");
    let secret = random_cookie()?;
    {
        // Readable by this user only, created so (never world-readable for an instant).
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let _ = std::fs::remove_file(&cookie_file);
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&cookie_file)?;
        f.write_all(secret.as_bytes())?;
    }
    let (guard, addrs) = start_nodes(nodes, &cookie_file, threads)?;
    let cfg = vecsim_cluster::ClusterConfig { cookie: secret, nodes: addrs, tls: None, warnings: Vec::new() };

    // One process: the actor engine.
    let t = Instant::now();
    let mut one = pipeline::EngineKind::Actors.build(threads)?;
    let a = pipeline::run_episode(
        s.clone(),
        fleet.clone(),
        pipeline::build_policies(&s, None)?,
        &mut *one,
        &mut NoObserver,
    )?;
    let one_s = t.elapsed().as_secs_f64();

    // The same run with its RSUs on the nodes (connection and set-up included).
    let t = Instant::now();
    let mut cl = vecsim_cluster::Cluster::new(cfg, threads);
    let report = cl.report();
    let b = pipeline::run_episode(s.clone(), fleet, pipeline::build_policies(&s, None)?, &mut cl, &mut NoObserver)?;
    let cl_s = t.elapsed().as_secs_f64();
    drop(guard);
    let _ = std::fs::remove_dir_all(&dir);

    let vs = a.stats.summary().vehicle_slots;
    let same = a.stats.slots_csv() == b.stats.slots_csv() && a.stats.summary().to_json() == b.stats.summary().to_json();
    outln!(
        "bench cluster {}: {} slots, {} RSUs, {vs} vehicle-slots, {threads} worker threads per process",
        s.name,
        s.time.slots,
        s.rsu_count()
    )?;
    outln!("  one process   {:>12.0} vehicle-slots/s  ({one_s:.2} s)", vs as f64 / one_s)?;
    outln!(
        "  {nodes} local nodes {:>12.0} vehicle-slots/s  ({cl_s:.2} s, connecting and setting up the nodes included)",
        vs as f64 / cl_s
    )?;
    outln!("  cluster/one   {:.2}   reports identical: {}", one_s / cl_s, if same { "yes" } else { "NO" })?;
    let handovers = report.lock().unwrap_or_else(|p| p.into_inner()).handovers;
    outln!(
        "  vehicle handovers between nodes: {handovers} ({:.2}% of vehicle-slots)",
        100.0 * handovers as f64 / vs.max(1) as f64
    )?;
    Ok(if same { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// 32 random bytes from the OS (`/dev/urandom`), hex: the bench's cookie, unguessable.
fn random_cookie() -> anyhow::Result<String> {
    use std::io::Read as _;
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bench_cookie_is_random_and_long() {
        let (a, b) = (super::random_cookie().unwrap(), super::random_cookie().unwrap());
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
