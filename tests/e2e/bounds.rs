//! Issue 21: every input bounded. Numeric flags range-checked where they are parsed, every file
//! read through a size cap (decompressed size for gzip), checkpoints validated on load, resume
//! exact or refused, outputs atomic and locked. Each child runs under an address-space limit,
//! so that a regression fails as an abort instead of eating the machine's memory.

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `vecsim ARGS` under `ulimit -v` of `kib` KiB.
pub(crate) fn vecsim_limited(args: &[&str], kib: u64) -> Output {
    let mut script = format!("ulimit -v {kib} && exec \"$0\"");
    for i in 0..args.len() {
        script.push_str(&format!(" \"${}\"", i + 1));
    }
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_vecsim"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run vecsim under sh")
}

/// 4 GiB of address space: plenty for every command below, far below what the bugs asked for.
const KIB: u64 = 4 << 20;

/// Item 6: values that used to panic or abort are refused by the flag's parser, naming it.
#[test]
fn numeric_flags_are_range_checked_where_parsed() {
    let cases: &[(&[&str], &str)] = &[
        (&["run", "paper-noon", "--slots", "2", "--pace", "1e-300"], "--pace"),
        (&["run", "paper-noon", "--slots", "2", "--pace", "0"], "--pace"),
        (
            &["run", "paper-noon", "--slots", "2", "--metrics-addr", "127.0.0.1:0", "--serve-after", "1e30"],
            "--serve-after",
        ),
        (&["train", "paper-noon", "--actor-hidden", "100000,100000"], "--actor-hidden"),
        (&["train", "paper-noon", "--actor-hidden", "8,0"], "--actor-hidden"),
        (&["train", "paper-noon", "--critic-hidden", "8/100000"], "--critic-hidden"),
        (&["train", "paper-noon", "--eval-seeds", "0"], "--eval-seeds"),
        (&["train", "paper-noon", "--checkpoint-every", "0"], "--checkpoint-every"),
        (&["train", "paper-noon", "--episodes", "0"], "--episodes"),
        (&["train", "paper-noon", "--update-every", "0"], "--update-every"),
        (&["plot", "tests/fixtures/minimal.toml", "--sigma", "1e9"], "--sigma"),
        (&["plot", "tests/fixtures/minimal.toml", "--sigma", "1e18"], "--sigma"),
        (&["compare", "paper-noon", "--seeds", "100000"], "--seeds"),
        (&["experiment", "traffic", "--budget", "smoke", "--seeds", "5000"], "--seeds"),
        (&["bench", "cluster", "paper-noon", "--nodes", "0"], "--nodes"),
        (&["bench", "train-step", "--batch", "100000000"], "--batch"),
        (&["bench", "train-step", "--agents", "100000"], "--agents"),
        (&["bench", "training", "--slots", "0"], "--slots"),
    ];
    for (args, flag) in cases {
        let o = vecsim_limited(args, KIB);
        let err = bad_input(o, &[flag]);
        assert!(!err.contains("memory allocation"), "{args:?}: {err}");
    }
}

/// Items 7 and 8: `/dev/zero` (endless) as every kind of input file is refused at its cap,
/// with the file and the limit named, under a 4 GiB address space (main read until it aborted).
#[test]
fn every_input_file_is_read_through_a_cap() {
    let dir = tempfile::tempdir().unwrap();
    bad_input(vecsim_limited(&["run", "/dev/zero"], KIB), &["/dev/zero", "1.0 MiB limit for scenario files"]);
    bad_input(vecsim_limited(&["scenario", "validate", "/dev/zero"], KIB), &["/dev/zero", "limit"]);
    bad_input(vecsim_limited(&["slot", "/dev/zero"], KIB), &["/dev/zero", "16.0 MiB limit for slot JSON"]);
    bad_input(vecsim_limited(&["plot", "/dev/zero"], KIB), &["/dev/zero", "limit for CSV files"]);
    // A trace: the cap follows --max-memory (half of it: a read trace takes twice its text).
    bad_input(
        vecsim_limited(&["run", "didi-sample", "--trace", "/dev/zero", "--max-memory", "0.01"], KIB),
        &["/dev/zero", "5.1 MiB limit"],
    );
    // A cookie file.
    let cluster = dir.path().join("cluster.toml");
    std::fs::write(&cluster, "cookie_file = \"/dev/zero\"\n[[nodes]]\naddr = \"127.0.0.1:1\"\n").unwrap();
    bad_input(
        vecsim_limited(&["run", "paper-noon", "--slots", "1", "--cluster", cluster.to_str().unwrap()], KIB),
        &["/dev/zero", "limit for cookie files"],
    );
    bad_input(
        vecsim_limited(&["node", "--listen", "127.0.0.1:0", "--cookie-file", "/dev/zero"], KIB),
        &["/dev/zero", "limit for cookie files"],
    );
}

/// Item 8: a gzip FCD trace is capped by what it inflates to, not by its compressed size.
#[test]
fn a_compressed_trace_is_capped_by_its_inflated_size() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    // A valid trace with a 16 MiB comment in it: about 16 KiB compressed, so the estimate
    // (compressed size × 10 × 2) lets it through and only the inflated size can stop it.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(b"<fcd-export>\n<!-- ").unwrap();
    gz.write_all(&vec![b'x'; 16 << 20]).unwrap();
    gz.write_all(b" -->\n<timestep time=\"0\"><vehicle id=\"a\" x=\"10\" y=\"1\"/></timestep>\n</fcd-export>\n")
        .unwrap();
    let bytes = gz.finish().unwrap();
    assert!(bytes.len() < 64 << 10, "{}", bytes.len());
    let trace = dir.path().join("bomb.xml.gz");
    std::fs::write(&trace, bytes).unwrap();
    let text = String::from_utf8(read(&root().join("scenarios/paper-evening.toml"))).unwrap();
    let head = text.split("[mobility]").next().unwrap();
    let scenario = dir.path().join("fcd.toml");
    std::fs::write(&scenario, format!("{head}[mobility]\nsource = \"fcd\"\ntrace = \"{}\"\n", trace.display()))
        .unwrap();
    // --max-memory 0.01 GiB: the inflated text may have 5.1 MiB; the compressed file is far less.
    bad_input(
        vecsim_limited(&["run", scenario.to_str().unwrap(), "--slots", "2", "--max-memory", "0.01"], KIB),
        &["bomb.xml.gz", "5.1 MiB limit"],
    );
}

/// Item 9: the memory estimate of a mid-size run on the actor engine is within 2× of the
/// measured peak resident memory (VmHWM of the child, reported by `wait4`).
#[test]
fn the_memory_estimate_is_within_twice_the_measured_peak() {
    let out = peak_rss_kib(&["run", "large-10k", "--slots", "3", "--engine", "actors", "--threads", "2"]);
    // The estimate for the same run, from the refusal message at a tiny limit.
    let err = bad_input(vecsim(&["run", "large-10k", "--slots", "3", "--max-memory", "0.0001"]), &["MiB"]);
    let mib = estimate_mib(&err);
    let measured_mib = out as f64 / 1024.0;
    assert!(
        mib / 2.0 <= measured_mib && measured_mib <= mib * 2.0,
        "estimate {mib} MiB, measured peak {measured_mib} MiB\n{err}"
    );
}

/// The estimate in a `--max-memory` refusal, MiB (`... needs about 123.4 MiB ...` or GiB).
fn estimate_mib(err: &str) -> f64 {
    for w in err.split_whitespace().collect::<Vec<_>>().windows(2) {
        if let Ok(v) = w[0].parse::<f64>() {
            if w[1].starts_with("MiB") {
                return v;
            }
            if w[1].starts_with("GiB") && v > 0.01 {
                return v * 1024.0;
            }
        }
    }
    panic!("no estimate in {err}");
}

/// Peak resident set of a successful `vecsim ARGS`, KiB, from the kernel's accounting of the
/// reaped child (`ru_maxrss`), which is exactly its VmHWM.
fn peak_rss_kib(args: &[&str]) -> u64 {
    let child = Command::new(env!("CARGO_BIN_EXE_vecsim"))
        .args(args)
        .current_dir(root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: wait4 on our own child, with valid out-pointers; std never reaps it (no wait()).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "{args:?} failed: {status}");
    std::mem::forget(child);
    usage.ru_maxrss as u64
}

/// A checkpoint directory of a tiny training run (2 episodes of 3 slots, 8-unit networks).
pub(crate) fn tiny_training(dir: &Path, extra: &[&str]) -> PathBuf {
    let ck = dir.join("ck");
    let mut args = vec![
        "train",
        "tests/fixtures/train-small.toml",
        "--episodes",
        "2",
        "--slots",
        "3",
        "--actor-hidden",
        "8",
        "--critic-hidden",
        "8/8",
        "--checkpoint",
        ck.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ok(vecsim(&args));
    ck
}

/// Item 11: `--resume` with a flag that would change the run is refused, naming the flag; the
/// same flags (and a larger `--episodes`) continue it.
#[test]
fn resume_is_exact_or_refused_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let ck = tiny_training(dir.path(), &[]);
    let ck = ck.to_str().unwrap();
    let base = [
        "train",
        "tests/fixtures/train-small.toml",
        "--slots",
        "3",
        "--actor-hidden",
        "8",
        "--critic-hidden",
        "8/8",
        "--checkpoint",
        ck,
        "--resume",
        "--episodes",
        "3",
    ];
    let changed: &[(&[&str], &str)] = &[
        (&["--seed", "99"], "--seed"),
        (&["--learn", "batch_size=3"], "--learn"),
        (&["--update-every", "7"], "--learn"),
        (&["--reward", "system"], "--reward"),
        (&["--fixed-traffic"], "--fixed-traffic"),
        (&["--fault", "vehicle_dropout=0.5"], "--fault"),
    ];
    for (extra, flag) in changed {
        let args: Vec<&str> = base.iter().chain(extra.iter()).copied().collect();
        bad_input(vecsim(&args), &[flag, "--resume with a changed"]);
    }
    // Flags of the shape and length of the run, given differently.
    let mut other_shape: Vec<&str> = base.to_vec();
    other_shape[5] = "16";
    bad_input(vecsim(&other_shape), &["--actor-hidden"]);
    let mut other_slots: Vec<&str> = base.to_vec();
    other_slots[3] = "4";
    bad_input(vecsim(&other_slots), &["--slots"]);
    // The run's own flags continue it.
    let out = ok(vecsim(&base));
    assert!(out.contains("3 episodes"), "{out}");
}

/// Item 12: one writer per output directory. A live holder is named and refused; a lock left
/// by a dead process is taken over; nothing temporary is left behind.
#[test]
fn a_second_writer_is_refused_and_a_stale_lock_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let me = std::process::id().to_string();
    // This test process stands for a live run holding the directory.
    std::fs::write(out.join(".vecsim.lock"), format!("{me}\n")).unwrap();
    let run = ["run", "paper-noon", "--slots", "2", "--out", out.to_str().unwrap()];
    bad_input(vecsim(&run), &["in use by another vecsim process", &format!("pid {me}")]);
    assert!(!out.join("summary.json").exists());
    let ck = dir.path().join("ck");
    std::fs::create_dir_all(&ck).unwrap();
    std::fs::write(ck.join(".vecsim.lock"), format!("{me}\n")).unwrap();
    bad_input(
        vecsim(&[
            "train",
            "tests/fixtures/train-small.toml",
            "--episodes",
            "1",
            "--slots",
            "2",
            "--checkpoint",
            ck.to_str().unwrap(),
        ]),
        &["in use by another vecsim process", &format!("pid {me}")],
    );
    // A holder that no longer exists (beyond any pid_max): the lock is stale and taken over.
    std::fs::write(out.join(".vecsim.lock"), "4294967295\n").unwrap();
    ok(vecsim(&run));
    let mut names: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["provenance.json", "slots.csv", "summary.json"], "lock released, no temporary file left");
}

/// Item 5: a node listed twice, or an entry that is not HOST:PORT, is refused before anything
/// connects (exit 2, the entry named); a cookie file readable by others or shorter than 16
/// bytes is refused (exit 2, naming the file and the reason) unless `--insecure`.
#[test]
fn cluster_files_are_checked_and_weak_cookies_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let strong = d.join("cookie");
    std::fs::write(&strong, "0123456789abcdef0123456789abcdef").unwrap();
    std::fs::set_permissions(&strong, std::fs::Permissions::from_mode(0o600)).unwrap();
    let run = |name: &str, body: &str| {
        let p = d.join(name);
        std::fs::write(&p, body).unwrap();
        vecsim(&["run", "paper-noon", "--slots", "1", "--cluster", p.to_str().unwrap()])
    };
    let twice = "cookie_file = \"cookie\"\n[[nodes]]\naddr = \"127.0.0.1:47101\"\n[[nodes]]\naddr = \"127.0.0.1:47102\"\n[[nodes]]\naddr = \"127.0.0.1:47101\"\n";
    bad_input(run("twice.toml", twice), &["twice.toml", "nodes[2]", "nodes[0]", "127.0.0.1:47101", "once"]);
    let v6 = "cookie_file = \"cookie\"\n[[nodes]]\naddr = \"[::1]:47101\"\n[[nodes]]\naddr = \"[0:0::1]:47101\"\n";
    bad_input(run("v6.toml", v6), &["nodes[1]", "nodes[0]"]);
    for (addr, what) in [
        ("localhost", "HOST:PORT"),
        ("127.0.0.1:0", "port `0`"),
        ("127.0.0.1:99999", "port `99999`"),
        (":4000", "host"),
    ] {
        let body = format!("cookie_file = \"cookie\"\n[[nodes]]\naddr = \"{addr}\"\n");
        bad_input(run("bad.toml", &body), &["nodes[0]", what]);
    }
    // A one-byte, world-readable cookie: refused (exit 2, the file and both reasons named), by
    // the coordinator and by a node; accepted with a warning under --insecure.
    let weak = d.join("weak");
    std::fs::write(&weak, "x").unwrap();
    std::fs::set_permissions(&weak, std::fs::Permissions::from_mode(0o644)).unwrap();
    let reasons = ["readable by other users (mode 0644)", "chmod 600", "is 1 bytes", "at least 16", "--insecure"];
    let weak_toml = d.join("weak.toml");
    let err = bad_input(
        run("weak.toml", "cookie_file = \"weak\"\n[[nodes]]\naddr = \"127.0.0.1:1\"\n"),
        &[&[weak.to_str().unwrap()][..], &reasons[..]].concat(),
    );
    assert!(!err.contains("unreachable"), "refused before connecting: {err}");
    let node = vecsim(&["node", "--listen", "127.0.0.1:0", "--cookie-file", weak.to_str().unwrap()]);
    bad_input(node, &[&[weak.to_str().unwrap()][..], &reasons[..]].concat());
    // Only the permissions, or only the length: each refused on its own.
    std::fs::set_permissions(&weak, std::fs::Permissions::from_mode(0o600)).unwrap();
    let err =
        bad_input(run("weak.toml", "cookie_file = \"weak\"\n[[nodes]]\naddr = \"127.0.0.1:1\"\n"), &["is 1 bytes"]);
    assert!(!err.contains("readable by other users"), "{err}");
    std::fs::write(&weak, "0123456789abcdef").unwrap();
    std::fs::set_permissions(&weak, std::fs::Permissions::from_mode(0o640)).unwrap();
    let err =
        bad_input(run("weak.toml", "cookie_file = \"weak\"\n[[nodes]]\naddr = \"127.0.0.1:1\"\n"), &["mode 0640"]);
    assert!(!err.contains("bytes:"), "16 bytes are enough: {err}");
    // --insecure: a warning, and the run goes on (to fail later: nobody listens).
    let o = vecsim(&["run", "paper-noon", "--slots", "1", "--insecure", "--cluster", weak_toml.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("warning") && err.contains("mode 0640") && err.contains("unreachable"), "{err}");
    // The strong cookie: no warning.
    let o = run("strong.toml", "cookie_file = \"cookie\"\n[[nodes]]\naddr = \"127.0.0.1:1\"\n");
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
}

/// Item 13, the smaller ones: a duplicate crash, a scenario name with escape codes, and an
/// experiment results CSV holding what no run writes are refused (exit 2, naming the key).
#[test]
fn smaller_inputs_are_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    bad_input(
        vecsim(&["run", "paper-noon", "--slots", "3", "--fault", "crash_rsu=0:1", "--fault", "crash_rsu=0:1"]),
        &["faults.crash_rsu[1]", "listed twice", "crash_rsu[0]"],
    );
    let text = String::from_utf8(read(&root().join("scenarios/paper-noon.toml"))).unwrap();
    let evil = dir.path().join("evil.toml");
    std::fs::write(&evil, text.replace("name = \"paper-noon\"", "name = \"red\\u001b[31m\\u0000\"")).unwrap();
    let err = bad_input(vecsim(&["run", evil.to_str().unwrap(), "--slots", "1"]), &["`name`", "control characters"]);
    assert!(!err.contains('\u{1b}') && !err.contains('\0'), "printed raw: {err:?}");
    let csv = dir.path().join("traffic.csv");
    let header = "experiment,budget,setting,window,x,policy,learner_seed,traffic_seed,slots,completion_rate,cumulative_reward,average_realized_potential,migrations,train_episodes,train_s,wall_s";
    std::fs::write(&csv, format!("{header}\ntraffic,quick,noon,noon,1,orl,,1,10,7.5,1,1,0,0,0.000,0.100\n")).unwrap();
    bad_input(
        vecsim(&["plot", csv.to_str().unwrap(), "--out", dir.path().to_str().unwrap()]),
        &["line 2", "completion_rate = 7.5"],
    );
}
