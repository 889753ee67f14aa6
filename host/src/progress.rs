//! What the user sees while bo works. On a terminal: a spinner per running part and
//! a bar for downloads, drawn on stderr, with log lines printed above them. Anywhere
//! else (CI=true, output piped, `-q`, TERM=dumb): plain lines only, exactly as
//! Buildout prints them. Every line bo prints during a build goes through here, so
//! the two never garble each other.

use std::sync::OnceLock;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

static DISPLAY: OnceLock<Option<MultiProgress>> = OnceLock::new();
static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static VERBOSE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether `-v` asked for the details of slow steps ([`detail`]).
pub fn set_verbose(verbose: bool) {
    VERBOSE.store(verbose, std::sync::atomic::Ordering::Relaxed);
}

/// What a slow step is doing: a spinner on a terminal, and a line with `-v`.
pub fn detail(label: &str) -> Task {
    if VERBOSE.load(std::sync::atomic::Ordering::Relaxed) {
        println(label);
    }
    task(label)
}

/// Whether a live display makes sense here.
fn wanted(quiet: bool) -> bool {
    use std::io::IsTerminal;
    !quiet
        && std::io::stderr().is_terminal()
        && std::env::var_os("CI").is_none_or(|v| v.is_empty() || v == "false")
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

/// Decides once per process whether to draw a live display.
pub fn init(quiet: bool) {
    QUIET.store(quiet, std::sync::atomic::Ordering::Relaxed);
    DISPLAY.get_or_init(|| wanted(quiet).then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10))));
}

fn display() -> Option<&'static MultiProgress> {
    DISPLAY.get().and_then(Option::as_ref)
}

/// A line on stdout.
pub fn println(line: &str) {
    match display() {
        Some(multi) => multi.suspend(|| println!("{line}")),
        None => println!("{line}"),
    }
}

/// A progress line (Buildout logs these at INFO: "Installing a."): hidden by `-q`.
pub fn info(line: &str) {
    if !QUIET.load(std::sync::atomic::Ordering::Relaxed) {
        println(line);
    }
}

/// A line on stderr.
pub fn eprintln(line: &str) {
    match display() {
        Some(multi) => multi.suspend(|| eprintln!("{line}")),
        None => eprintln!("{line}"),
    }
}

/// A spinner for work in progress (a part being installed); gone when dropped.
pub struct Task(Option<ProgressBar>);

pub fn task(label: &str) -> Task {
    Task(display().map(|multi| {
        let bar = multi.add(ProgressBar::new_spinner());
        bar.set_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
        bar.set_message(label.to_string());
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    }))
}

/// Takes a finished bar off the display.
fn clear(bar: Option<ProgressBar>) {
    if let Some(bar) = bar {
        bar.finish_and_clear();
        if let Some(multi) = display() {
            multi.remove(&bar);
        }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        clear(self.0.take());
    }
}

/// A bar counting items (files downloaded); gone when dropped.
pub struct Counter(Option<ProgressBar>);

pub fn counter(label: &str, total: u64) -> Counter {
    Counter(display().filter(|_| total > 0).map(|multi| {
        let bar = multi.add(ProgressBar::new(total));
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(label.to_string());
        bar
    }))
}

impl Counter {
    /// One more item done; `message` names it.
    pub fn inc(&self, message: &str) {
        if let Some(bar) = &self.0 {
            bar.set_message(message.to_string());
            bar.inc(1);
        }
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        clear(self.0.take());
    }
}
