//! bo: Buildout reimplemented. The library behind the `bo` binary; one module per
//! concern, each opening with a comment that says what it owns.

pub mod archive;
pub mod cli;
pub mod config;
pub mod fsutil;
pub mod net;
pub mod oci;
pub mod plan;
pub mod progress;
pub mod python;
pub mod runtime;
pub mod trust;
