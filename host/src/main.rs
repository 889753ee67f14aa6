//! The `bo` binary: everything lives in the library's `cli` module.

fn main() {
    // Like other command-line tools, stop quietly when the reader of our output
    // goes away (`bo annotate | head`) instead of panicking on the write.
    #[cfg(unix)]
    // SAFETY: called first thing, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(bo::cli::main());
}
