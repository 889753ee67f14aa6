//! `tinyrecipe:noop`: installs nothing and has no update method, like the
//! corpus's `Noop` recipe (bo then calls install for unchanged parts).

use bo_recipe_sdk::{Manifest, Options, Recipe, export_recipe};

struct Noop;

impl Recipe for Noop {
    fn describe() -> Manifest {
        Manifest::new("tinyrecipe:noop", "Does nothing (the conformance corpus's Noop recipe)")
    }

    fn install(_part: &str, _options: &Options) -> Result<Vec<String>, String> {
        Ok(Vec::new())
    }
}

export_recipe!(Noop);
