//! The `bo` binary: everything lives in the library's `cli` module.

fn main() {
    std::process::exit(bo::cli::main());
}
