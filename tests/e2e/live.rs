//! The live view tells the truth under `--pace` (issue 22, item 6): the engine itself keeps the
//! pace, so what `/metrics` shows is where the engine is. Assertions are on slot numbers seen
//! in order, never on how long anything took.

use super::cluster::three_nodes;
use super::common::{ok, read, root, vecsim};
use super::monitoring::{free_port, http_get, sample, Guard};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// `vecsim_slot` and `vecsim_slots_total` (and the slot wall-time count) of a scrape, once the
/// first slot has closed.
fn scrape(port: u16) -> Option<(f64, f64, f64)> {
    let (status, body) = http_get(port, "/metrics").ok()?;
    if status != 200 {
        return None;
    }
    let slots = sample(&body, "vecsim_slots_total")?;
    let timed = sample(&body, "vecsim_slot_wall_time_seconds_count")?;
    Some((sample(&body, "vecsim_slot")?, slots, timed))
}

#[test]
fn a_paced_run_shows_its_slots_one_by_one_each_timed_by_the_engine() {
    const SLOTS: u32 = 25;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("paced");
    let base = ["run", "paper-noon", "--policy", "orm", "--slots", &SLOTS.to_string()];
    let child = Command::new(env!("CARGO_BIN_EXE_vecsim"))
        .args(base)
        .args(["--pace", "10", "--metrics-addr", &format!("127.0.0.1:{port}"), "--serve-after", "2"])
        .args(["--out", out.to_str().unwrap()])
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn vecsim run");
    let mut guard = Guard(child);
    // Scrape as fast as it answers until the last slot is shown (bounded: never a hang).
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen: Vec<(f64, f64, f64)> = Vec::new();
    while seen.last().is_none_or(|s| s.1 < f64::from(SLOTS)) {
        assert!(Instant::now() < deadline, "the run never showed its last slot: {seen:?}");
        if let Some(s) = scrape(port) {
            seen.push(s);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(guard.0.wait().unwrap().success());
    for w in seen.windows(2) {
        assert!(w[0].1 <= w[1].1, "the slot counter never goes back: {seen:?}");
    }
    for &(slot, slots, timed) in &seen {
        // One wall time per slot closed. The engine times a slot and the report counts it from
        // different threads, so a scrape may fall between the two updates, either way round
        // (measured under load: 2 timed, 1 counted).
        assert!((timed - slots).abs() <= 1.0, "{slots} slots, {timed} timed: {seen:?}");
        // The gauge (index of the last closed slot) is one behind the counter (slots closed).
        // A scrape is not one snapshot: the exporter reads every counter, then every gauge,
        // while the engine sets the counter, then the gauge. So a scrape may see the counter
        // one slot newer than the gauge (slot + 2) or the gauge one slot newer than the counter
        // (slot == slots; measured on a loaded CI machine) — never further apart at 10 slots/s.
        assert!(slots == 0.0 || (slots - 2.0..=slots).contains(&slot), "slot {slot} of {slots}: {seen:?}");
    }
    // 25 slots at 10 a second, scraped every 10 ms or so: the counter is seen climbing, not
    // jumping to the end (an engine that ran ahead published every slot at once).
    let mut distinct: Vec<f64> = seen.iter().map(|s| s.1).collect();
    distinct.dedup();
    assert!(distinct.len() >= 5, "the slot counter was seen at only {distinct:?}");
    // The same numbers as an unpaced run without metrics.
    let plain = dir.path().join("plain");
    ok(vecsim(&[&base[..], &["--out", plain.to_str().unwrap()]].concat()));
    for f in ["slots.csv", "summary.json"] {
        assert_eq!(read(&out.join(f)), read(&plain.join(f)), "{f}: pacing changed a number");
    }
}

/// The case: a node killed a while into a paced cluster run is reported lost in the
/// slot the run was in when it died (on main the engine had run ahead: slot 299 of 300).
#[test]
fn a_node_killed_during_a_paced_cluster_run_is_lost_in_the_slot_it_died_in() {
    const SLOTS: u32 = 100;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (mut nodes, cluster) = three_nodes(d, &[]);
    let port = free_port();
    let out = d.join("out");
    let child = Command::new(env!("CARGO_BIN_EXE_vecsim"))
        .args(["run", "paper-noon", "--policy", "orm", "--slots", &SLOTS.to_string(), "--pace", "20"])
        .args(["--metrics-addr", &format!("127.0.0.1:{port}"), "--cluster", cluster.to_str().unwrap()])
        .args(["--out", out.to_str().unwrap()])
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn vecsim run --cluster");
    let mut guard = Guard(child);
    let (tx, rx) = mpsc::channel();
    let err = guard.0.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // Wait until slot 10 or later has been shown, then kill the second node.
    let deadline = Instant::now() + Duration::from_secs(120);
    let shown = loop {
        assert!(Instant::now() < deadline, "the run never reached slot 10");
        if let Some((slot, _, _)) = scrape(port).filter(|s| s.0 >= 10.0) {
            break slot;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    nodes[1].child.kill().unwrap();
    let addr = nodes[1].addr.clone();
    let said = format!("cluster: node {addr} lost in slot ");
    let mut log = Vec::new();
    let lost: f64 = loop {
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| panic!("no loss reported: {log:?}"));
        if let Some(rest) = line.strip_prefix(&said) {
            break rest.split(':').next().unwrap().parse().unwrap();
        }
        log.push(line);
    };
    // Shown right after the loss was noticed: where the run is now.
    let now = scrape(port).expect("metrics while the run goes on").0;
    assert!(guard.0.wait().unwrap().success(), "{log:?}");
    assert!(shown <= lost, "killed after slot {shown} was shown, yet lost in slot {lost}");
    assert!(lost <= now + 3.0, "lost in slot {lost}, but the run was showing slot {now} then");
    assert!(lost < f64::from(SLOTS - 10), "lost in slot {lost} of {SLOTS}: the engine ran ahead");
    // The outputs agree: its RSUs are down from the slot after the loss on.
    let csv = String::from_utf8(read(&out.join("slots.csv"))).unwrap();
    let mut rows = csv.lines();
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    let (s, down) =
        (header.iter().position(|h| *h == "slot").unwrap(), header.iter().position(|h| *h == "rsus_down").unwrap());
    for row in rows {
        let f: Vec<&str> = row.split(',').collect();
        let (slot, down): (f64, u32) = (f[s].parse().unwrap(), f[down].parse().unwrap());
        if slot < lost {
            assert_eq!(down, 0, "slot {slot} before the loss: {row}");
        } else if slot > lost {
            assert!(down > 0, "slot {slot} after the loss in slot {lost}: {row}");
        }
    }
}
