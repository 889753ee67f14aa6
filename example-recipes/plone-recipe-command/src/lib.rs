//! `plone.recipe.command`: runs a shell command when the part is installed
//! (`command`) and another when it is updated (`update-command`), through
//! `/bin/sh -c` in the buildout directory, as the original does with
//! `subprocess.call(command, shell=True)`. `location` lists paths the command
//! creates, which bo removes on uninstall; `stop-on-error` turns a non-zero exit
//! into a failed part (the original only logs it).
//!
//! The shell runs outside the sandbox, so the part needs the `program` grant:
//! `bo build --grant PART:program=sh`.

use bo_recipe_sdk::{Manifest, Options, Recipe, Run, config_get, export_recipe, log};

struct Command;

fn execute(part: &str, command: &str, options: &Options) -> Result<(), String> {
    log::info(&format!("Running '{}'", command.trim()));
    let directory = config_get("buildout", "directory").unwrap_or_default();
    let output = Run::new("sh").arg("-c").arg(command).cwd(directory).output()?;
    for line in output.stdout.lines() {
        log::info(line);
    }
    for line in output.stderr.lines() {
        log::warn(line);
    }
    if output.status != 0 {
        if options.get_bool("stop-on-error", false)? {
            return Err(format!("System error: the command of part {part} exited with status {}", output.status));
        }
        log::warn(&format!("the command exited with status {}", output.status));
    }
    Ok(())
}

impl Recipe for Command {
    const HAS_UPDATE: bool = true;

    fn describe() -> Manifest {
        Manifest::new("plone.recipe.command", "Runs a shell command on install and update").programs(&["sh"])
    }

    fn init(_part: &str, options: &mut Options) -> Result<(), String> {
        // The original's constructor reads these (so Buildout never calls them unused).
        for name in ["command", "update-command", "stop-on-error", "location"] {
            let _ = options.get(name);
        }
        Ok(())
    }

    fn install(part: &str, options: &Options) -> Result<Vec<String>, String> {
        let command = options.get("command").filter(|c| !c.trim().is_empty()).ok_or("No command specified")?;
        execute(part, command, options)?;
        Ok(options.get("location").map(|l| l.split_whitespace().map(String::from).collect()).unwrap_or_default())
    }

    fn update(part: &str, options: &Options) -> Result<Vec<String>, String> {
        if let Some(command) = options.get("update-command") {
            execute(part, command, options)?;
        }
        Ok(Vec::new())
    }
}

export_recipe!(Command);
