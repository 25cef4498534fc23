//! Monitoring against a real Prometheus server: a paced `vecsim run` serves metrics, a Prometheus
//! started here (loopback only, its own ports and storage) scrapes it every second, and every
//! PromQL expression of the Grafana dashboard must return data through Prometheus's HTTP API.
//!
//! Skipped, with a message, only when no `prometheus` binary is on the PATH (`.ci/run` installs
//! the Debian package).

use super::common::root;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SLOTS: u32 = 30;

/// Faults of every kind a `run` can show, so the fault panels have something to count.
const FAULTS: &[&str] = &[
    "vehicle_dropout=0.05",
    "loss.upload=0.05",
    "loss.wired=0.2",
    "latency.upload=fixed:0.01",
    "latency.wired=fixed:0.01",
    "rsu_outage=3:5:9",
    "crash_rsu=2:7",
];

/// `vecsim_faults_total`'s `kind` label and the `summary.json` `faults` field it must equal.
const FAULT_FIELDS: &[(&str, &str)] = &[
    ("vehicle_dropout", "vehicle_dropouts"),
    ("upload_lost", "uploads_lost"),
    ("migration_lost", "migrations_lost"),
    ("upload_delayed", "uploads_delayed"),
    ("migration_delayed", "migrations_delayed"),
    ("rsu_outage_slot", "rsu_outage_slots"),
    ("task_rsu_down", "tasks_rsu_down"),
    ("crash", "crashes"),
    ("round_dropout", "round_dropouts"),
];

/// `vecsim run` arguments shared by the reference run and the monitored one.
fn run_args() -> Vec<String> {
    let mut a: Vec<String> = ["run", "paper-evening", "--policy", "orm", "--slots"].map(String::from).to_vec();
    a.push(SLOTS.to_string());
    for f in FAULTS {
        a.push("--fault".into());
        a.push(f.to_string());
    }
    a
}

/// Kills and reaps a child process when dropped (also when the test panics).
pub(super) struct Guard(pub(super) Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

pub(super) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port").local_addr().unwrap().port()
}

fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A plain HTTP/1.0 GET on 127.0.0.1; returns the status code and body.
pub(super) fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    Ok((status, body.to_string()))
}

/// Evaluates an instant query; returns the `result` array (Err with the reason otherwise).
fn query(port: u16, expr: &str) -> Result<Vec<serde_json::Value>, String> {
    let (status, body) =
        http_get(port, &format!("/api/v1/query?query={}", url_encode(expr))).map_err(|e| e.to_string())?;
    let v: serde_json::Value = serde_json::from_str(&body).map_err(|e| format!("HTTP {status}: {e}: {body}"))?;
    if v["status"] != "success" {
        return Err(format!("HTTP {status}: {body}"));
    }
    Ok(v["data"]["result"].as_array().cloned().unwrap_or_default())
}

/// The first sample value of a query, if any.
fn scalar(port: u16, expr: &str) -> Option<f64> {
    let r = query(port, expr).ok()?;
    r.first()?["value"][1].as_str()?.parse().ok()
}

/// Every PromQL expression of the dashboard's panels (rows' nested panels included).
fn dashboard_exprs() -> Vec<(String, String)> {
    fn walk(ps: &serde_json::Value, out: &mut Vec<(String, String)>) {
        for p in ps.as_array().into_iter().flatten() {
            let title = p["title"].as_str().unwrap_or("?").to_string();
            for t in p["targets"].as_array().into_iter().flatten() {
                if let Some(e) = t["expr"].as_str() {
                    out.push((title.clone(), e.to_string()));
                }
            }
            walk(&p["panels"], out);
        }
    }
    let text = std::fs::read_to_string(root().join("grafana/dashboards/vecsim.json")).expect("dashboard");
    let d: serde_json::Value = serde_json::from_str(&text).expect("dashboard JSON");
    let mut out = Vec::new();
    walk(&d["panels"], &mut out);
    // Grafana fills in the dashboard's variables; here any instance (there is one).
    out.into_iter().map(|(title, e)| (title, e.replace("$instance", ".+"))).collect()
}

/// Series a plain run does not export: they appear with training (`TRAINING_ONLY` of the
/// telemetry catalogue).
const TRAINING_ONLY: &[&str] = &[
    "vecsim_training_critic_loss",
    "vecsim_training_actor_loss",
    "vecsim_training_update_steps_total",
    "vecsim_federated_rounds_total",
    "vecsim_federated_round",
    "vecsim_federated_participants",
];

fn log_tail(path: &Path) -> String {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

#[test]
fn dashboard_queries_return_data_from_a_real_prometheus() {
    let Some(prometheus) = find_on_path("prometheus") else {
        eprintln!(
            "SKIPPED monitoring::dashboard_queries_return_data_from_a_real_prometheus: no `prometheus` \
             binary on PATH (install the Debian package `prometheus`, as .ci/run does)"
        );
        return;
    };
    let (training, exprs): (Vec<_>, Vec<_>) =
        dashboard_exprs().into_iter().partition(|(_, e)| TRAINING_ONLY.iter().any(|m| e.contains(m)));
    assert!(!exprs.is_empty() && !training.is_empty(), "the dashboard has run and training expressions");

    // The reference numbers of the same run, unpaced and without metrics.
    let mut plain_args = run_args();
    plain_args.push("--json".into());
    let plain_args: Vec<&str> = plain_args.iter().map(String::as_str).collect();
    let plain = super::common::vecsim(&plain_args);
    assert!(plain.status.success(), "plain run failed: {}", String::from_utf8_lossy(&plain.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&plain.stdout).expect("summary JSON");
    let tasks_total = summary["tasks_total"].as_f64().expect("tasks_total");

    let tmp = tempfile::tempdir().expect("temp dir");
    let metrics_port = free_port();
    let prom_port = free_port();

    // vecsim: 30 slots at 10 slots/s (~3 s), then serve for 90 s more (longer than the
    // polling deadline: once the target is gone, Prometheus marks its series stale).
    let vecsim_log = tmp.path().join("vecsim.log");
    let vecsim = Command::new(env!("CARGO_BIN_EXE_vecsim"))
        .args(run_args())
        .args(["--pace", "10"])
        .args(["--metrics-addr", &format!("127.0.0.1:{metrics_port}"), "--serve-after", "90"])
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&vecsim_log).unwrap())
        .spawn()
        .expect("vecsim starts");
    let _vecsim = Guard(vecsim);

    let config = tmp.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: vecsim\n    static_configs:\n      - targets: ['127.0.0.1:{metrics_port}']\n"
        ),
    )
    .unwrap();
    let prom_log = tmp.path().join("prometheus.log");
    let prom = Command::new(&prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
        .arg(format!("--storage.tsdb.path={}", tmp.path().join("tsdb").display()))
        .current_dir(tmp.path())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&prom_log).unwrap())
        .spawn()
        .expect("prometheus starts");
    let _prom = Guard(prom);

    let deadline = Instant::now() + Duration::from_secs(60);
    let wait = |what: &str, ok: &mut dyn FnMut() -> bool| {
        while !ok() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\n--- prometheus log ---\n{}\n--- vecsim log ---\n{}",
                log_tail(&prom_log),
                log_tail(&vecsim_log)
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    };

    // The target is up, the whole run has been scraped, and a few more scrapes happened (so
    // every `rate(...[1m])` has at least two samples).
    wait("the vecsim target to be up", &mut || scalar(prom_port, r#"up{job="vecsim"}"#) == Some(1.0));
    wait("all slots to be scraped", &mut || scalar(prom_port, "vecsim_slots_total") == Some(SLOTS as f64));
    wait("a few scrapes", &mut || scalar(prom_port, "count_over_time(vecsim_slots_total[1m])").unwrap_or(0.0) >= 4.0);

    // Every dashboard expression returns data (retrying until the deadline).
    let mut failing: Vec<String> = Vec::new();
    wait("every dashboard expression to return data", &mut || {
        failing = exprs
            .iter()
            .filter_map(|(title, e)| match query(prom_port, e) {
                Ok(r) if !r.is_empty() => None,
                Ok(_) => Some(format!("[{title}] {e}: empty result")),
                Err(err) => Some(format!("[{title}] {e}: {err}")),
            })
            .collect();
        if !failing.is_empty() && Instant::now() + Duration::from_millis(300) >= deadline {
            panic!("dashboard expressions without data:\n{}", failing.join("\n"));
        }
        failing.is_empty()
    });

    // A plain run exports no training series: its training panels are empty, not NaN.
    for (title, e) in &training {
        assert_eq!(query(prom_port, e).map(|r| r.len()), Ok(0), "[{title}] {e}: a plain run has no training series");
    }

    // The numbers Prometheus holds are the run's: pacing and metrics change nothing.
    assert_eq!(scalar(prom_port, "sum(vecsim_tasks_total)"), Some(tasks_total), "tasks counted by Prometheus");
    let completed = summary["tasks_completed"].as_f64().unwrap();
    assert_eq!(scalar(prom_port, r#"sum(vecsim_tasks_total{outcome="completed"})"#), Some(completed));
    assert_eq!(scalar(prom_port, "vecsim_slot"), Some((SLOTS - 1) as f64));
    let rate = scalar(prom_port, "vecsim_completion_ratio").unwrap();
    assert!((rate - summary["completion_rate"].as_f64().unwrap()).abs() < 1e-9, "completion rate {rate}");

    // Faults by kind: the run's own counts (crashes are brought up to date when the run ends).
    let f = &summary["faults"];
    assert!(f["crashes"].as_f64() == Some(1.0) && f["uploads_lost"].as_f64() > Some(0.0), "{f}");
    let fault = |kind: &str| scalar(prom_port, &format!(r#"vecsim_faults_total{{kind="{kind}"}}"#));
    let mut mismatched = Vec::new();
    wait("fault counts to match the run's", &mut || {
        mismatched = FAULT_FIELDS
            .iter()
            .filter(|(kind, field)| fault(kind) != f[*field].as_f64())
            .map(|(kind, field)| format!("{kind}: prometheus {:?}, summary {}", fault(kind), f[*field]))
            .collect();
        if !mismatched.is_empty() && Instant::now() + Duration::from_millis(300) >= deadline {
            panic!("fault counts differ:\n{}", mismatched.join("\n"));
        }
        mismatched.is_empty()
    });

    // The run printed its latency percentiles before serving on.
    let log = std::fs::read_to_string(&vecsim_log).unwrap();
    for w in ["latency percentiles", "service time", "slot wall time", "p99"] {
        assert!(log.contains(w), "vecsim stderr lacks `{w}`:\n{log}");
    }
}

#[test]
fn pacing_and_metrics_change_no_number() {
    use super::common::{bad_input, ok, stderr, vecsim};
    let base = ["run", "paper-evening", "--slots", "10", "--json"];
    let plain = ok(vecsim(&base));
    let port = free_port().to_string();
    let addr = format!("127.0.0.1:{port}");
    let started = Instant::now();
    let watched = vecsim(&[&base[..], &["--pace", "50", "--metrics-addr", &addr]].concat());
    let took = started.elapsed();
    let err = stderr(&watched);
    assert_eq!(ok(watched), plain, "pacing or metrics changed the summary");
    assert!(took >= Duration::from_millis(150), "10 slots at 50/s took only {took:?}");
    // The latency table goes to stderr (stdout is the JSON above, and it parsed).
    for w in ["latency percentiles", "service time", "slot wall time", "p50", "p90", "p99", "max"] {
        assert!(err.contains(w), "stderr lacks `{w}`:\n{err}");
    }
    // Bad flags are bad input.
    bad_input(vecsim(&[&base[..], &["--pace", "0"]].concat()), &["--pace"]);
    bad_input(vecsim(&[&base[..], &["--serve-after", "5"]].concat()), &["--metrics-addr"]);
    bad_input(vecsim(&[&base[..], &["--metrics-addr", "no-port"]].concat()), &["--metrics-addr"]);
}

/// The value of an unlabelled sample in Prometheus text, if present.
pub(super) fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Samples of a metric (any labels) in Prometheus text: `(labels, value)`.
fn samples<'a>(text: &'a str, name: &str) -> Vec<(&'a str, f64)> {
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?.strip_prefix('{')?;
            let (labels, value) = rest.split_once("} ")?;
            Some((labels, value.trim().parse().ok()?))
        })
        .collect()
}

#[test]
fn training_shows_live_metrics_mid_way_and_honours_pace() {
    use super::common::fixture_path;
    // train-small: 3 RSUs, 12 slots per episode, a VEC POOL round every episode.
    const EPISODES: u32 = 4;
    const PACE: f64 = 12.0;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let scenario = fixture_path("train-small.toml");
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_vecsim"))
        .args(["train", scenario.to_str().unwrap(), "--policy", "fed-maddpg", "--episodes", &EPISODES.to_string()])
        .args(["--actor-hidden", "16", "--critic-hidden", "16/16", "--pace", &PACE.to_string()])
        .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
        .args(["--checkpoint", dir.path().to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn vecsim train");
    let mut guard = Guard(child);
    // Scrape until the first episode has closed and a slot of the second has.
    let deadline = Instant::now() + Duration::from_secs(120);
    let text = loop {
        assert!(Instant::now() < deadline, "no episode closed within 120 s");
        if let Ok((200, body)) = http_get(port, "/metrics") {
            // An episode's ratios are NaN from its start until its first slot closes (no
            // upload yet): wait for one that has.
            if sample(&body, "vecsim_episode").is_some_and(|e| e >= 1.0)
                && sample(&body, "vecsim_completion_ratio").is_some_and(|r| !r.is_nan())
            {
                break body;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let total_slots = f64::from(EPISODES * 12);
    let slots = sample(&text, "vecsim_slots_total").expect("vecsim_slots_total");
    assert!((12.0..total_slots).contains(&slots), "mid-way, slots {slots}");
    let rate = sample(&text, "vecsim_completion_ratio").expect("vecsim_completion_ratio");
    assert!((0.0..=1.0).contains(&rate), "completion rate {rate} is a rate, not NaN");
    let rsu_rates = samples(&text, "vecsim_rsu_completion_ratio");
    assert_eq!(rsu_rates.len(), 3, "{rsu_rates:?}");
    assert!(rsu_rates.iter().any(|(_, v)| (0.0..=1.0).contains(v)), "{rsu_rates:?}");
    let tasks: f64 = samples(&text, "vecsim_tasks_total").iter().map(|(_, v)| v).sum();
    assert!(tasks > 0.0, "tasks counted during training");
    assert!(sample(&text, "vecsim_federated_rounds_total").is_some_and(|r| r >= 1.0), "a round per episode");
    assert!(sample(&text, "vecsim_training_critic_loss").is_some_and(f64::is_finite), "critic loss reported");
    assert!(sample(&text, "vecsim_training_update_steps_total").is_some_and(|n| n >= 0.0), "update steps counted");
    assert!(
        samples(&text, "vecsim_build_info").iter().any(|(l, v)| *v == 1.0 && l.contains("scenario=\"train-small\"")),
        "build info"
    );
    assert!(sample(&text, "vecsim_live_vehicle_actors").is_some_and(|n| n > 0.0), "live vehicle actors");
    let info = samples(&text, "vecsim_run_info");
    assert!(
        info.iter().any(|(l, v)| *v == 1.0
            && l.contains("policy=\"fed-maddpg\"")
            && l.contains("engine=\"actors\"")
            && l.contains("scenario=\"train-small\"")),
        "{info:?}"
    );
    // Let it finish: pacing holds every slot to 1/PACE s at least.
    let status = guard.0.wait().expect("wait for vecsim train");
    let took = started.elapsed().as_secs_f64();
    assert!(status.success(), "vecsim train failed");
    assert!(took >= (total_slots - 1.0) / PACE, "{total_slots} slots at {PACE}/s took only {took:.2} s");
    let curve = std::fs::read_to_string(dir.path().join("curve.csv")).expect("curve.csv");
    assert_eq!(curve.lines().count(), 1 + EPISODES as usize, "{curve}");
}
