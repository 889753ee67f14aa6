//! How bo's own builds of source distributions (sdist wheels, `develop`, zc.recipe.egg
//! `:custom`) are confined. A build runs the project's `setup.py` or backend, code
//! the configuration chose, so it runs as a granted program does (user, PID and
//! network namespaces, no Unix sockets, Landlock): it reads the system, the
//! interpreter, its build environment and source, writes its source tree and output
//! only, and has no network. Where the kernel cannot confine it, it runs only with
//! the user's `--allow-unconfined-programs`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::runtime::confine::Confinement;

pub(super) struct ConfinedBuilds {
    pub(super) allow_unconfined: bool,
}

impl crate::python::sdist::Confiner for ConfinedBuilds {
    fn confine(
        &self,
        command: &mut Command,
        program: &Path,
        read: &[PathBuf],
        write: &[PathBuf],
    ) -> Result<Box<dyn std::any::Any>, String> {
        let confinement = Confinement::for_paths(read, write, program, false)?;
        if confinement.unconfined {
            if !self.allow_unconfined {
                return Err(
                    "this system cannot confine builds (no Landlock or user namespaces); bo runs build code unconfined only with --allow-unconfined-programs"
                        .into(),
                );
            }
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                crate::progress::eprintln(
                    "warning: this system cannot confine builds (no Landlock): build code runs with all of your rights (--allow-unconfined-programs)",
                )
            });
        }
        command
            .env("HOME", confinement.home.path())
            .env("TMPDIR", confinement.home.path())
            .stdin(std::process::Stdio::null());
        confinement.apply(command);
        Ok(Box::new(confinement))
    }
}
