//! Where the command line's text goes, and what a failed write means. Every subcommand prints
//! through this module, so the rules below hold for all of them (docs/cli.md):
//!
//! - **Data on stdout** ([`outln!`]): tables, `--json`, JSON, the lines a script reads. A write
//!   error there ends the run: a closed pipe (`vecsim scenario list | head -1`) quietly with
//!   exit 0, as ripgrep does — the reader has all it wanted — and any other error (a full disk,
//!   `> /dev/full`) with one line naming standard output and exit 1.
//! - **Chatter on stderr**: notes, "wrote FILE" lines and progress bars ([`note!`],
//!   [`progress_bar`]), silenced by `-q/--quiet`; detail ([`detail!`]) only with
//!   `-v/--verbose`; warnings ([`warning!`]) and errors always. A failed write to stderr is
//!   ignored: there is nowhere left to report it.
//! - **Colour**: `--color auto|always|never`; `auto` honours `NO_COLOR`, then `CLICOLOR_FORCE`,
//!   then `TERM=dumb`, then whether the stream is a terminal — decided once, separately for
//!   stdout and stderr, for the tables and the progress bars alike.

use std::ffi::OsString;
use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::sync::OnceLock;

/// `--color`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum ColorChoice {
    /// Colour on a terminal, unless `NO_COLOR` is set (or when `CLICOLOR_FORCE` is).
    #[default]
    Auto,
    /// Always colour, whatever the environment says.
    Always,
    /// Never colour.
    Never,
}

/// What the global flags asked for, decided once at start-up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Settings {
    /// `-q`: no chatter, no progress bars.
    pub quiet: bool,
    /// `-v` (repeatable): more detail on stderr.
    pub verbose: u8,
    /// Colour the data on stdout (table headings).
    pub color_stdout: bool,
    /// Colour stderr (progress bars, `error:`/`warning:`).
    pub color_stderr: bool,
}

static SETTINGS: OnceLock<Settings> = OnceLock::new();

/// The environment variables that bear on colour, read once.
#[derive(Clone, Debug, Default)]
pub(crate) struct ColorEnv {
    pub no_color: Option<OsString>,
    pub clicolor_force: Option<OsString>,
    pub term: Option<OsString>,
}

impl ColorEnv {
    pub(crate) fn from_env() -> Self {
        ColorEnv {
            no_color: std::env::var_os("NO_COLOR"),
            clicolor_force: std::env::var_os("CLICOLOR_FORCE"),
            term: std::env::var_os("TERM"),
        }
    }
}

/// Whether a stream is coloured. `--color always|never` wins over the environment (a flag is
/// more specific than a variable set for a whole session); under `auto`, `NO_COLOR` (any
/// non-empty value, no-color.org) wins over `CLICOLOR_FORCE` (non-empty and not `0`), which
/// wins over `TERM=dumb` and the terminal test.
pub(crate) fn use_color(choice: ColorChoice, env: &ColorEnv, is_terminal: bool) -> bool {
    let set = |v: &Option<OsString>| v.as_ref().is_some_and(|v| !v.is_empty());
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            if set(&env.no_color) {
                false
            } else if set(&env.clicolor_force) && env.clicolor_force.as_deref() != Some("0".as_ref()) {
                true
            } else if env.term.as_deref() == Some("dumb".as_ref()) {
                false
            } else {
                is_terminal
            }
        }
    }
}

/// Decides the settings from the global flags and the environment; the first call wins.
pub(crate) fn init(quiet: bool, verbose: u8, color: ColorChoice) -> Settings {
    let env = ColorEnv::from_env();
    let s = Settings {
        quiet,
        verbose,
        color_stdout: use_color(color, &env, io::stdout().is_terminal()),
        color_stderr: use_color(color, &env, io::stderr().is_terminal()),
    };
    // indicatif styles its bars (drawn on stderr) through `console`'s stdout switch.
    console::set_colors_enabled(s.color_stderr);
    console::set_colors_enabled_stderr(s.color_stderr);
    *SETTINGS.get_or_init(|| s)
}

/// The settings in force (the defaults before [`init`]).
pub(crate) fn settings() -> Settings {
    SETTINGS.get().copied().unwrap_or_default()
}

/// `--color` as given on a command line that clap has not parsed yet, for clap's own help and
/// error messages: `--color X` or `--color=X`, the last one winning.
pub(crate) fn color_from_args(args: &[OsString]) -> ColorChoice {
    use clap::ValueEnum as _;
    let mut choice = ColorChoice::Auto;
    let mut it = args.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        let v = if a == "--color" {
            it.next().map(|v| v.into_owned())
        } else {
            a.strip_prefix("--color=").map(str::to_owned)
        };
        if let Some(c) = v.and_then(|v| ColorChoice::from_str(&v, true).ok()) {
            choice = c;
        }
    }
    choice
}

/// A failed write of data to stdout.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum OutputError {
    /// The reader went away (`| head`): not an error to report, the run just ends.
    #[error("standard output was closed")]
    Closed,
    /// Anything else: the data did not get out.
    #[error("cannot write to standard output: {0}")]
    Write(#[source] io::Error),
}

impl From<io::Error> for OutputError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            OutputError::Closed
        } else {
            OutputError::Write(e)
        }
    }
}

/// Whether an error only says that stdout's reader went away.
pub(crate) fn is_closed_stdout(err: &anyhow::Error) -> bool {
    err.chain().any(|e| matches!(e.downcast_ref::<OutputError>(), Some(OutputError::Closed)))
}

/// Writes data to stdout (see [`outln!`]).
pub(crate) fn write_out(args: fmt::Arguments<'_>) -> Result<(), OutputError> {
    io::stdout().lock().write_fmt(args).map_err(OutputError::from)
}

/// Flushes stdout (the last, unterminated line of `--json`), mapping errors like [`write_out`].
pub(crate) fn flush_out() -> Result<(), OutputError> {
    io::stdout().lock().flush().map_err(OutputError::from)
}

/// Writes to stderr, ignoring failure: there is nowhere left to report it.
pub(crate) fn write_err(args: fmt::Arguments<'_>) {
    let _ = io::stderr().lock().write_fmt(args);
}

/// A line of data on stdout; evaluates to `Result<(), OutputError>`.
macro_rules! outln {
    ($($t:tt)*) => {
        $crate::cli::output::write_out(format_args!("{}\n", format_args!($($t)*)))
    };
}

/// Data on stdout without a newline; evaluates to `Result<(), OutputError>`.
macro_rules! out {
    ($($t:tt)*) => {
        $crate::cli::output::write_out(format_args!($($t)*))
    };
}

/// A line of chatter on stderr (notes, "wrote FILE"); nothing with `--quiet`.
macro_rules! note {
    ($($t:tt)*) => {
        if !$crate::cli::output::settings().quiet {
            $crate::cli::output::write_err(format_args!("{}\n", format_args!($($t)*)));
        }
    };
}

/// A line of detail on stderr, only with `--verbose` (and not `--quiet`).
macro_rules! detail {
    ($($t:tt)*) => {{
        let s = $crate::cli::output::settings();
        if s.verbose > 0 && !s.quiet {
            $crate::cli::output::write_err(format_args!("{}\n", format_args!($($t)*)));
        }
    }};
}

/// `warning: ...` on stderr, shown even with `--quiet`: it is about the result, not chatter.
macro_rules! warning {
    ($($t:tt)*) => {
        $crate::cli::output::write_err(format_args!(
            "{}{}\n",
            $crate::cli::output::paint_err("warning:", $crate::cli::output::YELLOW),
            format_args!(" {}", format_args!($($t)*))
        ))
    };
}

pub(crate) use {detail, note, out, outln, warning};

/// SGR codes.
pub(crate) const BOLD: &str = "1";
pub(crate) const RED: &str = "1;31";
pub(crate) const YELLOW: &str = "1;33";

fn paint(text: &str, sgr: &str, on: bool) -> String {
    if on {
        format!("\x1b[{sgr}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// `text` styled for stdout (when stdout is coloured). Style whole lines: escape codes inside a
/// padded `{:>12}` would break the alignment.
pub(crate) fn paint_out(text: &str, sgr: &str) -> String {
    paint(text, sgr, settings().color_stdout)
}

/// `text` styled for stderr (when stderr is coloured).
pub(crate) fn paint_err(text: &str, sgr: &str) -> String {
    paint(text, sgr, settings().color_stderr)
}

/// A table heading on stdout.
pub(crate) fn heading(text: &str) -> String {
    paint_out(text, BOLD)
}

/// The `error: ...` line of a failed run.
pub(crate) fn error_line(msg: &str) {
    write_err(format_args!("{} {msg}\n", paint_err("error:", RED)));
}

/// A progress bar on stderr, hidden with `--quiet` (indicatif hides it anyway when stderr is
/// not a terminal). `template` takes indicatif's styles (`{bar:30.cyan/blue}`), which follow
/// `--color`.
pub(crate) fn progress_bar(len: u64, template: &str) -> indicatif::ProgressBar {
    if settings().quiet {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(indicatif::ProgressStyle::with_template(template).expect("valid progress template"));
    bar
}

/// The kinds of I/O error that mean a path the user gave is wrong (bad input, exit 2) rather
/// than that the run failed (a full disk, a lost connection: exit 1).
pub(crate) fn is_bad_path(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(e.kind(), NotFound | PermissionDenied | NotADirectory | IsADirectory | ReadOnlyFilesystem | AlreadyExists)
}

/// A failed read or write of `path`: bad input naming the path when [`is_bad_path`], else a
/// failure of the run.
pub(crate) fn path_error(what: &str, path: &std::path::Path, e: io::Error) -> anyhow::Error {
    let msg = format!("{what} {}: {e}", path.display());
    if is_bad_path(&e) {
        super::bad(msg)
    } else {
        anyhow::anyhow!(msg)
    }
}

/// An error and its sources, each once (a source whose text is already there is not repeated):
/// for errors turned into [`super::BadInput`], which keeps only a message.
pub(crate) fn with_sources(e: &dyn std::error::Error) -> String {
    vecsim::message::error_message(e)
}

/// The panic hook: a panic is a bug; say so in a few lines with the version and where to report
/// it, and add the backtrace only when `RUST_BACKTRACE` (or `RUST_LIB_BACKTRACE`) asks for it.
pub(crate) fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let p = info.payload();
        let msg = p
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| p.downcast_ref::<&str>().copied())
            .unwrap_or("(no message)");
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        let thread = std::thread::current();
        let thread = thread.name().unwrap_or("unnamed");
        let bt = std::backtrace::Backtrace::capture();
        let mut text = format!(
            "{} vecsim hit a bug (thread '{thread}' panicked{at}): {msg}\n\
             This is a bug in vecsim, not in what you gave it. Please report it at {} with the command\n\
             you ran and this message.\n\
             version: {}\n",
            paint_err("error:", RED),
            super::version::REPORT_TO,
            super::version::short()
        );
        if bt.status() == std::backtrace::BacktraceStatus::Captured {
            text.push_str(&format!("backtrace:\n{bt}\n"));
        } else {
            text.push_str("(run with RUST_BACKTRACE=1 to include a backtrace)\n");
        }
        write_err(format_args!("{text}"));
    }));
}

/// The one overwrite rule of every output (`run --out`, `compare --csv`/`--json`, `plot --out`,
/// `train --checkpoint`): an existing result is refused, before any work, unless `--force`.
/// The error names the first existing path and says `--force`; `other` is the flag that picks
/// another place (e.g. `--out DIR`).
pub(crate) fn refuse_existing<'a>(
    paths: impl IntoIterator<Item = &'a std::path::Path>,
    force: bool,
    other: &str,
) -> anyhow::Result<()> {
    if force {
        return Ok(());
    }
    match paths.into_iter().find(|p| p.exists()) {
        Some(p) => {
            Err(super::bad(format!("{} already exists: --force to overwrite it, or another {other}", p.display())))
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(no_color: Option<&str>, force: Option<&str>, term: Option<&str>) -> ColorEnv {
        ColorEnv {
            no_color: no_color.map(Into::into),
            clicolor_force: force.map(Into::into),
            term: term.map(Into::into),
        }
    }

    #[test]
    fn colour_precedence() {
        use ColorChoice::*;
        let none = env(None, None, None);
        // auto: the terminal test decides when the environment is silent.
        assert!(use_color(Auto, &none, true));
        assert!(!use_color(Auto, &none, false));
        // NO_COLOR (non-empty) beats a terminal and CLICOLOR_FORCE; an empty one is unset.
        assert!(!use_color(Auto, &env(Some("1"), None, None), true));
        assert!(!use_color(Auto, &env(Some("1"), Some("1"), None), true));
        assert!(use_color(Auto, &env(Some(""), None, None), true));
        // CLICOLOR_FORCE colours a pipe, unless it is 0 or empty.
        assert!(use_color(Auto, &env(None, Some("1"), None), false));
        assert!(!use_color(Auto, &env(None, Some("0"), None), false));
        assert!(!use_color(Auto, &env(None, Some(""), None), false));
        // TERM=dumb is no colour even on a terminal.
        assert!(!use_color(Auto, &env(None, None, Some("dumb")), true));
        // The flag beats the environment both ways.
        assert!(use_color(Always, &env(Some("1"), None, Some("dumb")), false));
        assert!(!use_color(Never, &env(None, Some("1"), None), true));
    }

    #[test]
    fn color_flag_before_parsing() {
        let args = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(color_from_args(&args(&["vecsim", "run", "x"])), ColorChoice::Auto);
        assert_eq!(color_from_args(&args(&["vecsim", "--color", "never", "run"])), ColorChoice::Never);
        assert_eq!(color_from_args(&args(&["vecsim", "run", "--color=always"])), ColorChoice::Always);
        // The last wins; a bad value is clap's to reject, and changes nothing here.
        assert_eq!(color_from_args(&args(&["vecsim", "--color=always", "--color", "never"])), ColorChoice::Never);
        assert_eq!(color_from_args(&args(&["vecsim", "--color", "purple"])), ColorChoice::Auto);
        // After `--`, arguments are positional.
        assert_eq!(color_from_args(&args(&["vecsim", "--", "--color=never"])), ColorChoice::Auto);
    }

    #[test]
    fn broken_pipe_is_a_closed_stdout_and_nothing_else_is() {
        let closed = OutputError::from(io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(matches!(closed, OutputError::Closed));
        assert!(is_closed_stdout(&anyhow::Error::new(closed).context("printing the table")));
        let full = OutputError::from(io::Error::from_raw_os_error(28));
        assert!(matches!(full, OutputError::Write(_)));
        assert!(!is_closed_stdout(&anyhow::Error::new(full)));
    }

    #[test]
    fn bad_paths_are_bad_input_and_a_full_disk_is_not() {
        let p = std::path::Path::new("/proc/nonexistent/x");
        let e = path_error("cannot create", p, io::Error::from(io::ErrorKind::NotFound));
        assert!(e.chain().any(|c| c.downcast_ref::<crate::cli::BadInput>().is_some()));
        assert!(e.to_string().contains("/proc/nonexistent/x"), "{e}");
        let e = path_error("cannot write", p, io::Error::from_raw_os_error(28));
        assert!(!e.chain().any(|c| c.downcast_ref::<crate::cli::BadInput>().is_some()));
    }

    #[test]
    fn paint_wraps_only_when_on() {
        assert_eq!(paint("x", BOLD, false), "x");
        assert_eq!(paint("x", BOLD, true), "\x1b[1mx\x1b[0m");
    }
}
