//! `tinyrecipe`: the lifecycle test recipe of the zc.buildout conformance corpus,
//! as a component. Its constructor sets `path` to `parts/<part>`; install creates
//! that directory with `content.txt` holding the `content` option, and fails after
//! writing if `fail = true`; update and uninstall print what the Python one prints.

use bo_recipe_sdk::{Manifest, Options, Recipe, config_get, export_recipe, log};

struct TinyRecipe;

impl Recipe for TinyRecipe {
    const HAS_UPDATE: bool = true;

    fn describe() -> Manifest {
        Manifest::new("tinyrecipe", "Creates parts/<part>/content.txt (the conformance corpus's test recipe)")
    }

    fn init(part: &str, options: &mut Options) -> Result<(), String> {
        let parts = config_get("buildout", "parts-directory").ok_or("no parts-directory")?;
        options.set("path", format!("{parts}/{part}"));
        Ok(())
    }

    fn install(_part: &str, options: &Options) -> Result<Vec<String>, String> {
        let path = options.require("path")?;
        std::fs::create_dir_all(&path).map_err(|e| format!("cannot create {path}: {e}"))?;
        std::fs::write(format!("{path}/content.txt"), options.get_or("content", "")).map_err(|e| format!("cannot write content.txt: {e}"))?;
        if options.get("fail") == Some("true") {
            return Err("recipe failed on purpose".into());
        }
        Ok(vec![path])
    }

    fn update(part: &str, _options: &Options) -> Result<Vec<String>, String> {
        log::info(&format!("tinyrecipe: update {part}"));
        Ok(Vec::new())
    }

    fn uninstall(part: &str, _options: &Options) -> Result<(), String> {
        log::info(&format!("tinyrecipe: uninstall hook for {part}"));
        Ok(())
    }
}

export_recipe!(TinyRecipe);
