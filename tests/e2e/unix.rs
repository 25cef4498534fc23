//! The command line as a Unix tool (issue 24): a closed pipe ends it quietly, a write error is
//! one line and exit 1, a panic says it is a bug, completions and a man page come from the clap
//! definitions, `--version` says what was built, data stays on stdout and chatter on stderr,
//! `--quiet`, `--color` and `NO_COLOR` hold, and bad paths exit 2 naming them.

use crate::common::*;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `vecsim` with arguments and environment changes, stdout and stderr captured; the colour
/// variables of the caller's environment are removed so that each test sets its own.
fn vecsim_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vecsim"));
    c.args(args).current_dir(root());
    for k in ["NO_COLOR", "CLICOLOR_FORCE", "CLICOLOR", "RUST_BACKTRACE", "RUST_LIB_BACKTRACE"] {
        c.env_remove(k);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("vecsim runs")
}

/// `vecsim` with its stdout sent to `stdout`, stderr captured.
fn vecsim_to(args: &[&str], stdout: Stdio) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vecsim"))
        .args(args)
        .current_dir(root())
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .expect("vecsim runs")
}

fn minimal() -> String {
    fixture_path("minimal.toml").to_str().unwrap().to_string()
}

fn has_esc(b: &[u8]) -> bool {
    b.contains(&0x1b)
}

fn assert_no_panic(o: &Output) {
    let err = stderr(o);
    for bad in ["panicked", "Broken pipe", "stack backtrace", "bug"] {
        assert!(!err.contains(bad), "stderr has {bad:?}:\n{err}");
    }
}

/// A reader that went away before anything was written: every write gets EPIPE (the pipe's
/// read end is closed before the process starts, so there is no race with a pipe buffer), and
/// the run ends quietly with exit 0, even with RUST_BACKTRACE set.
#[test]
fn a_closed_stdout_ends_the_run_quietly_with_exit_0() {
    let m = minimal();
    let cases: [&[&str]; 4] = [
        &["scenario", "list"],
        &["run", &m, "--slots", "4", "--json"],
        &["run", &m, "--slots", "4"],
        &["compare", &m, "--seeds", "1", "--slots", "3", "--policies", "orl"],
    ];
    for args in cases {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = vecsim_to(args, Stdio::from(writer));
        assert_eq!(o.status.code(), Some(0), "{args:?}: exit {:?}; stderr:\n{}", o.status.code(), stderr(&o));
        assert_no_panic(&o);
        assert!(!stderr(&o).contains("error"), "{args:?}: {}", stderr(&o));
    }
    // Nothing else at all from a command with no chatter.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = vecsim_to(&["scenario", "list"], Stdio::from(writer));
    assert_eq!(stderr(&o), "");
}

/// `> /dev/full`: one line naming standard output and the OS's reason, exit 1, no panic.
#[test]
fn a_full_disk_on_stdout_is_one_line_and_exit_1() {
    if !Path::new("/dev/full").exists() {
        eprintln!("skipping: no /dev/full");
        return;
    }
    let m = minimal();
    let cases: [&[&str]; 3] =
        [&["scenario", "list"], &["run", &m, "--slots", "4"], &["run", &m, "--slots", "4", "--json"]];
    for args in cases {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let o = vecsim_to(args, Stdio::from(full));
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: exit {:?}; stderr:\n{err}", o.status.code());
        assert_eq!(err.lines().count(), 1, "{args:?}: not one line:\n{err}");
        assert!(err.starts_with("error: cannot write to standard output: "), "{args:?}: {err}");
        assert!(err.contains("No space left on device"), "{args:?}: {err}");
        assert_no_panic(&o);
    }
}

/// A panic is a bug: a few lines with the version and where to report it, exit 101; the
/// backtrace only when RUST_BACKTRACE asks for it.
#[test]
fn a_panic_says_it_is_a_bug_with_the_version_and_a_backtrace_only_when_asked() {
    let o = vecsim_env(&["scenario", "list"], &[("VECSIM_PANIC_FOR_TEST", "1")]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(101), "{err}");
    assert!(err.contains("This is a bug in vecsim"), "{err}");
    assert!(err.contains("Please report it at"), "{err}");
    assert!(err.contains(&format!("version: {}", env!("CARGO_PKG_VERSION"))), "{err}");
    assert!(err.contains("a panic on purpose"), "{err}");
    assert!(!err.contains("backtrace:"), "a backtrace nobody asked for:\n{err}");
    assert!(err.lines().count() <= 6, "not short:\n{err}");

    let o = vecsim_env(&["scenario", "list"], &[("VECSIM_PANIC_FOR_TEST", "1"), ("RUST_BACKTRACE", "1")]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(101), "{err}");
    assert!(err.contains("This is a bug in vecsim"), "{err}");
    assert!(err.contains("backtrace:"), "RUST_BACKTRACE=1 but no backtrace:\n{err}");
}

/// Completion scripts that the shells parse, generated from the clap definitions.
#[test]
fn completion_scripts_parse_in_their_shells() {
    let dir = tempfile::tempdir().unwrap();
    let bash = dir.path().join("vecsim.bash");
    let script = ok(vecsim(&["completions", "bash"]));
    for word in ["run", "compare", "train", "experiment", "completions", "--quiet", "--color"] {
        assert!(script.contains(word), "the bash script lacks {word}");
    }
    assert!(!script.contains("PANIC"), "the test hook shows in the completions");
    std::fs::write(&bash, &script).unwrap();
    let n = Command::new("bash").arg("-n").arg(&bash).output().expect("bash runs");
    assert!(n.status.success(), "bash -n rejects the script:\n{}", stderr(&n));
    // Sourced, it registers a completion function for `vecsim`.
    let c = Command::new("bash")
        .arg("-c")
        .arg(format!("source '{}' && complete -p vecsim", bash.display()))
        .output()
        .expect("bash runs");
    assert!(c.status.success(), "{}", stderr(&c));
    assert!(stdout(&c).contains("_vecsim") && stdout(&c).contains("vecsim"), "{}", stdout(&c));

    for (shell, check) in [("zsh", &["-n"][..]), ("fish", &["--no-execute"][..])] {
        let script = ok(vecsim(&["completions", shell]));
        assert!(script.contains("vecsim"), "{shell}");
        let f = dir.path().join(format!("vecsim.{shell}"));
        std::fs::write(&f, &script).unwrap();
        match Command::new(shell).args(check).arg(&f).output() {
            Ok(o) => assert!(o.status.success(), "{shell} rejects its script:\n{}", stderr(&o)),
            Err(_) => eprintln!("skipping the {shell} parse: {shell} is not installed"),
        }
    }
    for shell in ["elvish", "powershell"] {
        assert!(ok(vecsim(&["completions", shell])).contains("vecsim"), "{shell}");
    }
    bad_input(vecsim(&["completions", "tcsh"]), &["tcsh"]);
}

/// `vecsim man`: a roff page that groff formats without warnings, naming the subcommands and the
/// exit codes; `--dir` writes one page per subcommand.
#[test]
fn the_man_page_is_roff_that_groff_accepts() {
    let page = ok(vecsim(&["man"]));
    assert!(page.starts_with(".ie") || page.starts_with(".TH"), "not a roff page:\n{}", &page[..page.len().min(200)]);
    assert!(page.contains(".TH vecsim 1"), "no .TH header");
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH OPTIONS", ".SH SUBCOMMANDS", ".SH VERSION"] {
        assert!(page.contains(section), "no {section}");
    }
    assert!(page.contains("vecsim\\-completions") || page.contains("vecsim-completions"), "no completions subcommand");
    assert!(page.contains("Exit codes"), "no exit codes");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("vecsim.1");
    std::fs::write(&f, &page).unwrap();
    match Command::new("groff").args(["-k", "-man", "-Tutf8", "-ww", "-z"]).arg(&f).output() {
        Ok(o) => {
            assert!(o.status.success(), "groff fails:\n{}", stderr(&o));
            assert_eq!(stderr(&o), "", "groff warns");
        }
        Err(_) => eprintln!("skipping the groff check: groff is not installed"),
    }
    let pages = dir.path().join("man1");
    let o = vecsim(&["man", "--dir", pages.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    for name in ["vecsim.1", "vecsim-run.1", "vecsim-train.1", "vecsim-bench-engine.1", "vecsim-completions.1"] {
        assert!(pages.join(name).is_file(), "no {name} in {}", pages.display());
    }
}

/// The version of `krate` in Cargo.lock, read here independently of build.rs.
fn locked(krate: &str) -> String {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).unwrap();
    let mut lines = lock.lines();
    while let Some(l) = lines.next() {
        if l == format!("name = \"{krate}\"") {
            return lines.next().unwrap().trim_start_matches("version = \"").trim_end_matches('"').to_string();
        }
    }
    panic!("{krate} is not in Cargo.lock")
}

/// `--version`: commit (when built from git), features, dfdx and ractor; `version` and
/// `--version --verbose` give the full list.
#[test]
fn version_names_the_commit_the_features_and_dfdx_and_ractor() {
    let v = ok(vecsim(&["--version"]));
    assert_eq!(v.lines().count(), 1, "{v}");
    assert!(v.starts_with(&format!("vecsim {} (", env!("CARGO_PKG_VERSION"))), "{v}");
    assert!(v.contains(&format!("dfdx {}", locked("dfdx"))), "{v}");
    assert!(v.contains(&format!("ractor {}", locked("ractor"))), "{v}");
    let cuda = if cfg!(feature = "cuda") { "cuda" } else { "no cuda" };
    assert!(v.contains(cuda), "{v}");
    // Built from this checkout, whose HEAD is what the binary was built at.
    let head = Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).current_dir(root()).output();
    if let Some(h) = head.ok().filter(|h| h.status.success()) {
        let h = stdout(&h).trim().to_string();
        assert!(v.contains(&format!("commit {h}")), "{v} lacks commit {h}");
    }
    let full = ok(vecsim(&["version"]));
    for key in ["version", "commit", "features", "target", "rustc", "dfdx", "ractor", "ractor_cluster", "tokio"] {
        assert!(full.lines().any(|l| l.starts_with(&format!("{key} "))), "no {key} line:\n{full}");
    }
    assert!(full.contains(&locked("ractor_cluster")), "{full}");
    assert_eq!(ok(vecsim(&["--version", "--verbose"])), full);
    assert_eq!(ok(vecsim(&["-V", "-v"])), full);
    bad_input(vecsim(&["--version", "run", "x"]), &["vecsim version"]);
}

/// `--help` ends with the exit-code table.
#[test]
fn help_lists_the_exit_codes_and_the_global_flags() {
    let h = ok(vecsim(&["--help"]));
    let codes = h.split("Exit codes:").nth(1).unwrap_or_else(|| panic!("no exit codes in --help:\n{h}"));
    for code in ["0 ", "1 ", "2 ", "101"] {
        assert!(codes.lines().any(|l| l.trim_start().starts_with(code)), "no exit code {code}:\n{codes}");
    }
    for flag in ["--quiet", "--verbose", "--color <WHEN>", "--version"] {
        assert!(h.contains(flag), "no {flag}");
    }
    // No subcommand is a usage error.
    let o = vecsim(&[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// Colour: none in a pipe by default; CLICOLOR_FORCE forces it, NO_COLOR and `--color never`
/// take it away, `--color always` wins over NO_COLOR. Tables (stdout) and `error:` (stderr).
#[test]
fn color_follows_the_flag_and_no_color() {
    let list = |args: &[&str], env: &[(&str, &str)]| {
        let o = vecsim_env(args, env);
        assert!(o.status.success(), "{args:?} {env:?}: {}", stderr(&o));
        o.stdout
    };
    let plain = list(&["scenario", "list"], &[]);
    assert!(!has_esc(&plain), "colour in a pipe");
    let forced = list(&["scenario", "list"], &[("CLICOLOR_FORCE", "1")]);
    assert!(has_esc(&forced), "CLICOLOR_FORCE=1 gave no colour");
    // The same text once the escapes are gone: colour only styles.
    let stripped = String::from_utf8(forced).unwrap().replace("\x1b[1m", "").replace("\x1b[0m", "");
    assert_eq!(stripped.as_bytes(), &plain[..]);
    assert!(!has_esc(&list(&["scenario", "list"], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")])), "NO_COLOR ignored");
    assert!(!has_esc(&list(&["--color", "never", "scenario", "list"], &[("CLICOLOR_FORCE", "1")])));
    assert!(!has_esc(&list(&["scenario", "list", "--color=never"], &[("CLICOLOR_FORCE", "1")])));
    assert!(has_esc(&list(&["--color", "always", "scenario", "list"], &[("NO_COLOR", "1")])));
    // A run's table too.
    let m = minimal();
    assert!(!has_esc(&list(&["run", &m, "--slots", "3"], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")])));
    assert!(has_esc(&list(&["run", &m, "--slots", "3", "--color", "always"], &[])));

    // stderr: the error line.
    let o = vecsim_env(&["--color", "always", "run", "no-such-scenario"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).starts_with("\x1b[1;31merror:\x1b[0m "), "{:?}", stderr(&o));
    let o = vecsim_env(&["run", "no-such-scenario"], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!has_esc(&o.stderr), "{:?}", stderr(&o));
    // clap's own messages follow --color too.
    let o = vecsim_env(&["--color", "never", "run", "--no-such-flag"], &[("CLICOLOR_FORCE", "1")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!has_esc(&o.stderr), "{:?}", stderr(&o));
}

/// `--json` is the only thing on stdout, whatever else is asked for (detail, files written),
/// so `vecsim run ... --json | jq .completion_rate` always works.
#[test]
fn json_output_is_only_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let m = minimal();
    let o = vecsim_env(&["run", &m, "--slots", "5", "--json", "-v", "--out", out.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is one JSON document");
    assert!(v.get("completion_rate").is_some(), "{v}");
    // The JSON on stdout is the summary.json written.
    let file: serde_json::Value = serde_json::from_slice(&read(&out.join("summary.json"))).unwrap();
    assert_eq!(v, file);
    // The chatter went to stderr: the detail, the files written, the latency table.
    let err = stderr(&o);
    assert!(err.contains("run: scenario"), "no -v detail on stderr:\n{err}");
    assert!(err.contains("wrote"), "{err}");
    // `slot` prints JSON only too.
    let slot = vecsim_stdin(
        &["slot", "-", "-v"],
        r#"{"rsus":[{"id":1,"x":0,"y":0,"cpu_hz":1e9,"bandwidth_bps":1e6}],
            "tasks":[{"id":1,"rsu":1,"target":1,"data_bits":1e5,"cycles_per_bit":100,"deadline_s":1}]}"#,
    );
    assert!(slot.status.success(), "{}", stderr(&slot));
    let _: serde_json::Value = serde_json::from_slice(&slot.stdout).expect("slot prints one JSON document");
}

/// Data on stdout, chatter on stderr, on the subcommands that write files.
#[test]
fn wrote_lines_are_chatter_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("c.csv");
    let m = minimal();
    let o = vecsim_env(
        &["compare", &m, "--seeds", "2", "--slots", "3", "--policies", "orl,random", "--csv", csv.to_str().unwrap()],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let (out, err) = (stdout(&o), stderr(&o));
    assert!(!out.contains("wrote"), "a `wrote` line on stdout:\n{out}");
    assert!(err.contains(&format!("wrote {}", csv.display())), "{err}");
    // The table: a title, a heading, one row per policy.
    assert_eq!(out.lines().count(), 4, "{out}");
    assert!(out.lines().nth(2).unwrap().trim_start().starts_with("orl"), "{out}");

    let figs = dir.path().join("figs");
    let o = vecsim_env(&["plot", csv.to_str().unwrap(), "--out", figs.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "", "plot prints nothing but chatter");
    assert!(stderr(&o).contains("wrote"), "{}", stderr(&o));
}

/// `--quiet`: nothing on stderr for a successful run (no latency table, no `wrote`), the data
/// unchanged on stdout.
#[test]
fn quiet_prints_nothing_on_stderr_for_a_successful_run() {
    let dir = tempfile::tempdir().unwrap();
    let m = minimal();
    let out = dir.path().join("r");
    let loud = vecsim_env(&["run", &m, "--slots", "5", "--json"], &[]);
    assert!(!loud.stderr.is_empty(), "the latency table is expected without -q");
    for q in ["-q", "--quiet"] {
        let o = vecsim_env(&["run", &m, "--slots", "5", "--json", q, "--force", "--out", out.to_str().unwrap()], &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(stderr(&o), "", "{q}: stderr not empty");
        assert_eq!(o.stdout, loud.stdout, "{q} changed the data");
    }
    let csv = dir.path().join("c.csv");
    let o = vecsim_env(&["-q", "compare", &m, "--seeds", "1", "--slots", "3", "--csv", csv.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    assert!(stdout(&o).contains("orl"));
    // Quiet and verbose together is a usage error.
    let o = vecsim_env(&["run", &m, "-q", "-v"], &[]);
    assert_eq!(o.status.code(), Some(2));
}

/// A `compare --csv` file that `vecsim plot` reads, written by hand.
fn dir_csv() -> tempfile::NamedTempFile {
    let f = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    std::fs::write(
        f.path(),
        "policy,seed,completion_rate,cumulative_reward,average_realized_potential,migrations\norl,1,1,2,1,0\n",
    )
    .unwrap();
    f
}

/// An output path that cannot be used is bad input: exit 2, naming it.
#[test]
fn a_bad_output_path_exits_2_naming_it() {
    let m = minimal();
    bad_input(vecsim(&["run", &m, "--slots", "3", "--out", "/proc/nonexistent/x"]), &["/proc/nonexistent/x"]);
    bad_input(
        vecsim(&[
            "compare",
            &m,
            "--seeds",
            "1",
            "--slots",
            "2",
            "--policies",
            "orl",
            "--csv",
            "/proc/nonexistent/c.csv",
        ]),
        &["/proc/nonexistent/c.csv"],
    );
    // A file where a directory is wanted.
    let f = tempfile::NamedTempFile::new().unwrap();
    let under = f.path().join("x");
    bad_input(vecsim(&["run", &m, "--slots", "3", "--out", under.to_str().unwrap()]), &[under.to_str().unwrap()]);
    // plot's figures, experiment's directory, train's checkpoint directory and curve, man pages.
    let csv = dir_csv();
    let e = bad_input(
        vecsim(&["plot", csv.path().to_str().unwrap(), "--out", "/proc/nonexistent/d"]),
        &["/proc/nonexistent/d"],
    );
    assert!(e.contains("No such file or directory"), "the reason is missing: {e}");
    bad_input(
        vecsim(&["experiment", "traffic", "--budget", "smoke", "--out", "/proc/nonexistent/e"]),
        &["/proc/nonexistent/e"],
    );
    let sc = fixture_path("train-small.toml");
    let sc = sc.to_str().unwrap();
    bad_input(
        vecsim(&["train", sc, "--episodes", "1", "--checkpoint", "/proc/nonexistent/ck"]),
        &["/proc/nonexistent/ck"],
    );
    let ck = tempfile::tempdir().unwrap();
    let ck = ck.path().to_str().unwrap();
    bad_input(
        vecsim(&["train", sc, "--episodes", "1", "--checkpoint", ck, "--curve", "/proc/nonexistent/c.csv"]),
        &["/proc/nonexistent"],
    );
    bad_input(vecsim(&["man", "--dir", "/proc/nonexistent/m"]), &["/proc/nonexistent/m"]);
    // And an input path.
    bad_input(vecsim(&["run", "/proc/nonexistent/s.toml"]), &["/proc/nonexistent/s.toml"]);
}

/// Progress bars (drawn only on a terminal): coloured with `--color always`, plain with
/// `NO_COLOR`, absent with `-q`. The terminal is a pty from util-linux's `script`.
#[test]
fn progress_bars_follow_color_and_quiet_on_a_terminal() {
    if Command::new("script").arg("--version").output().map_or(true, |o| !o.status.success()) {
        eprintln!("skipping: no `script` (util-linux) to give vecsim a terminal");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sc = fixture_path("train-small.toml");
    let tty = |flags: &str, env: &str, name: &str| -> String {
        let ck = dir.path().join(name);
        let log = dir.path().join(format!("{name}.log"));
        let cmd = format!(
            "{env} {} {flags} train {} --episodes 2 --slots 5 --eval-every 0 --checkpoint {}",
            env!("CARGO_BIN_EXE_vecsim"),
            sc.display(),
            ck.display()
        );
        let o = Command::new("script")
            .args(["-q", "-e", "-c", &cmd])
            .arg(&log)
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .stdin(Stdio::null())
            .output()
            .expect("script runs");
        assert!(o.status.success(), "{cmd}: {}", stderr(&o));
        String::from_utf8_lossy(&read(&log)).into_owned()
    };
    // indicatif's cyan bar: ESC[36m; any SGR colour: ESC[3xm.
    let coloured = |t: &str| (30..=37).any(|c| t.contains(&format!("\x1b[{c}m")));
    let always = tty("--color always", "", "always");
    assert!(always.contains("episode 2/2"), "no progress bar on the terminal:\n{always}");
    assert!(always.contains("\x1b[36m"), "no colour with --color always:\n{always}");
    let no_color = tty("", "NO_COLOR=1", "no-color");
    assert!(no_color.contains("episode 2/2"), "{no_color}");
    assert!(!coloured(&no_color), "colour despite NO_COLOR:\n{no_color}");
    let never = tty("--color never", "CLICOLOR_FORCE=1", "never");
    assert!(!coloured(&never), "colour despite --color never:\n{never}");
    let quiet = tty("-q", "", "quiet");
    assert!(!quiet.contains("episode 1/2"), "a progress bar despite -q:\n{quiet}");
    assert!(quiet.contains("checkpoint: "), "the data went missing with -q:\n{quiet}");
}
