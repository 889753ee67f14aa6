//! Applying a [`Plan`]: each step a small function with one job, in Buildout's
//! order: refuse if grants are missing, create the standard directories, prepare
//! `develop` projects, uninstall, run the parts (in parallel where independent),
//! write the lock and the picked versions, and remove an empty state file. Each
//! step records what it did in the state file before the next one starts.

use std::path::Path;

use super::build::options_list;
use super::installed::{INSTALLED_PATHS, InstalledState};
use super::recipes::{self, BuildServices};
use super::removal::remove_recorded;
use super::{BuildError, INSTALLED_DEVELOP_EGGS, INSTALLING, LOCK_FILE, Plan, capabilities, develop, fail, jobs};
use crate::config::Evaluator;

impl Plan<'_> {
    /// Does what the plan says.
    pub fn apply(mut self) -> Result<(), BuildError> {
        if !self.missing_grants.is_empty() {
            return Err(fail(&[INSTALLING], capabilities::refusal(&self.missing_grants)));
        }
        self.create_directories()?;
        let develop_eggs = self.prepare_develop()?;
        let mut installed = self.state.part_names();
        for (part, _) in self.uninstalls.clone() {
            self.uninstall(&part, &mut installed)?;
        }
        warn_unused_buildout_options(&mut self.ev, &self.build.services);
        self.run_parts(&mut installed)?;
        self.write_lock(&installed)?;
        self.write_picked_versions()?;
        self.remove_empty_state(&installed, &develop_eggs);
        Ok(())
    }

    /// `bin`, `parts` and `develop-eggs`, as Buildout creates them.
    fn create_directories(&self) -> Result<(), BuildError> {
        let s = &self.settings;
        for dir in [&s.bin_directory, &s.parts_directory, &s.develop_eggs_directory] {
            if !dir.exists() {
                crate::progress::info(&format!("Creating directory '{}'.", dir.display()));
                std::fs::create_dir_all(dir).map_err(|e| fail(&[INSTALLING], format!("cannot create {}: {e}", dir.display())))?;
            }
        }
        Ok(())
    }

    /// `[buildout] develop`: prepares the projects and records their egg-links in
    /// the state's `[buildout]` section, as Buildout does. Returns them.
    fn prepare_develop(&mut self) -> Result<String, BuildError> {
        self.ev.refresh_snapshot(&mut self.build.services.snapshot.lock().unwrap());
        let tree = crate::trust::extends::ExtendsPolicy::new(&self.config.config_file, &self.build.grants);
        let links = develop::prepare(&self.develop, &self.settings, &self.build, &tree).map_err(|m| fail(&[INSTALLING], m))?;
        let develop_eggs = links.iter().map(|l| l.display().to_string()).collect::<Vec<_>>().join("\n");
        let recorded = self.state.buildout.get(INSTALLED_DEVELOP_EGGS).cloned().unwrap_or_default();
        if recorded != develop_eggs {
            if develop_eggs.is_empty() {
                self.state.buildout.shift_remove(INSTALLED_DEVELOP_EGGS);
            } else {
                self.state.buildout.insert(INSTALLED_DEVELOP_EGGS.into(), develop_eggs.clone());
            }
            if let Some(path) = self.settings.installed.as_ref().filter(|_| self.state.exists) {
                InstalledState::append(path, &[(INSTALLED_DEVELOP_EGGS, &develop_eggs)]).map_err(|e| fail(&[INSTALLING], e.to_string()))?;
            }
        }
        Ok(develop_eggs)
    }

    /// Uninstalls one part: its recipe's uninstall step, then what it recorded
    /// (only what it could write); the state file then no longer names it.
    fn uninstall(&mut self, part: &str, installed: &mut Vec<String>) -> Result<(), BuildError> {
        let doing = format!("Uninstalling {part}.");
        crate::progress::info(&doing);
        let old = self.state.parts.get(part).cloned().unwrap_or_default();
        let reference = old.get("recipe").cloned().unwrap_or_default();
        self.ev.refresh_snapshot(&mut self.build.services.snapshot.lock().unwrap());
        let (recipe, binding) = self
            .build
            .load_recipe(part, &reference)
            .map_err(|m| fail(&[INSTALLING, &doing], m))?;
        // A classic recipe says whether it has an uninstall step (Buildout says
        // "Running uninstall recipe." only then); a component may always have one.
        let has_uninstall = binding.classic.as_ref().is_none_or(|c| c.uninstall.is_some());
        let grant = self
            .build
            .grant(part, &recipe, binding, &old)
            .map_err(|e| fail(&[INSTALLING, &doing], e.to_string()))?;
        let writable = grant.write.clone();
        if has_uninstall {
            crate::progress::info("Running uninstall recipe.");
            self.ev.refresh_snapshot(&mut self.build.services.snapshot.lock().unwrap());
            let list = options_list(&old);
            self.build
                .runtime
                .call(&recipe, grant, self.build.services.clone(), |r, s| r.call_uninstall(s, part, &list))
                .map_err(|e| fail(&[INSTALLING, &doing], e.to_string()))?;
        }
        remove_recorded(
            old.get(INSTALLED_PATHS).map(String::as_str).unwrap_or(""),
            &self.settings.directory,
            &writable,
        );
        // The sandbox of the uninstall call needed `parts/<part>`: not left behind
        // empty (Buildout leaves nothing).
        let _ = crate::trust::cap::remove_empty_dir(&self.settings.parts_directory.join(part));
        installed.retain(|p| p != part);
        self.state.parts.shift_remove(part);
        self.state.buildout.insert("parts".into(), installed.join(" "));
        if let Some(path) = self.settings.installed.as_ref().filter(|_| self.state.exists) {
            InstalledState::append(path, &[("parts", &installed.join(" "))]).map_err(|e| fail(&[INSTALLING], e.to_string()))?;
        }
        Ok(())
    }

    /// Installs or updates the planned parts, in parallel where independent.
    fn run_parts(&mut self, installed: &mut Vec<String>) -> Result<(), BuildError> {
        self.ev.refresh_snapshot(&mut self.build.services.snapshot.lock().unwrap());
        let rank: std::collections::HashMap<String, usize> = self.new_options.keys().enumerate().map(|(i, p)| (p.clone(), i + 1)).collect();
        let mut jobs = Vec::new();
        for planned in &self.parts {
            let part = match &planned.action {
                super::Action::Install { part, .. } | super::Action::Update { part } | super::Action::Uninstall { part, .. } => part,
            };
            let (recipe, binding) = self.build.recipes.borrow()[part].clone();
            let grant = self
                .build
                .grant(part, &recipe, binding, &self.new_options[part])
                .map_err(|e| fail(&[INSTALLING], e.to_string()))?;
            jobs.push(jobs::Job {
                part: part.clone(),
                update: installed.contains(part),
                recipe,
                grant,
                dependencies: planned.dependencies.clone(),
            });
        }
        // Buildout warns, after installing a part, about its raw options that
        // neither its recipe nor a substitution read.
        let unread: std::collections::HashMap<String, Vec<String>> = self
            .parts
            .iter()
            .filter_map(|p| match &p.action {
                super::Action::Install { part, .. } => Some(part.clone()),
                _ => None,
            })
            .map(|part| {
                let names: Vec<String> = self
                    .ev
                    .options_not_substituted(&part)
                    .into_iter()
                    .filter(|o| o != "recipe" && o != crate::config::eval::PART_DEPENDENCIES)
                    .collect();
                (part, names)
            })
            .collect();
        let mut ctx = jobs::Finish {
            unread: &unread,
            settings: &self.settings,
            state: &mut self.state,
            state_path: &self.settings.installed,
            installed_parts: installed,
            new_options: &self.new_options,
            install_rank: &rank,
            ordered: false,
        };
        jobs::run_jobs(&self.build, jobs, self.options.jobs.max(1), &mut ctx)
    }

    /// `bo.lock`: what each installed part resolved to (unless `--locked`/`--frozen`).
    fn write_lock(&self, installed: &[String]) -> Result<(), BuildError> {
        if self.options.lock_mode != recipes::LockMode::Update {
            return Ok(());
        }
        let services = &self.build.services;
        let mut lock = services.lock.lock().unwrap().clone();
        let before = lock.clone();
        lock.parts.retain(|name, _| installed.contains(name));
        lock.parts.extend(services.resolved.lock().unwrap().clone());
        lock.recipes = services.pulled_recipes.lock().unwrap().clone();
        if lock != before {
            lock.write(&self.settings.directory.join(LOCK_FILE)).map_err(|m| fail(&[], m))?;
        }
        Ok(())
    }

    /// `show-picked-versions` and `update-versions-file`, as Buildout writes them.
    fn write_picked_versions(&mut self) -> Result<(), BuildError> {
        let picked = self.build.services.picked.lock().unwrap().clone();
        if picked.is_empty() {
            return Ok(());
        }
        let lines = recipes::format_picked_versions(&picked);
        if self.settings.show_picked_versions {
            crate::progress::println("Versions had to be automatically picked.\nThe following part definition lists the versions picked:");
            for line in &lines {
                crate::progress::println(line);
            }
        }
        let versions_file = self.ev.get("buildout", "update-versions-file", None)?.unwrap_or_default();
        if versions_file.trim().is_empty() {
            return Ok(());
        }
        let path = self.settings.directory.join(versions_file.trim());
        let mut text = String::new();
        if path.exists() {
            text.push_str(&format!(
                "\n# Added by bo at {}\n",
                humantime::format_rfc3339_seconds(std::time::SystemTime::now())
            ));
            text.push_str(&lines[1..].join("\n"));
        } else {
            text.push_str(&lines.join("\n"));
        }
        text.push('\n');
        append_no_follow(&path, &text).map_err(|e| fail(&[], format!("cannot update {}: {e}", path.display())))?;
        crate::progress::println(&format!("Picked versions have been written to {}", path.display()));
        Ok(())
    }

    /// Buildout removes the state file once nothing is installed.
    fn remove_empty_state(&self, installed: &[String], develop_eggs: &str) {
        if installed.is_empty() && develop_eggs.is_empty() && self.state.exists {
            if let Some(path) = &self.settings.installed {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// Appends `text` to `path`, never through a link the checkout planted
/// (`versions.cfg -> ~/.bashrc`).
fn append_no_follow(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut open = std::fs::OpenOptions::new();
    open.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut open, libc::O_NOFOLLOW);
    open.open(path)?.write_all(text.as_bytes())
}

fn warn_unused_buildout_options(ev: &mut Evaluator<'_>, services: &BuildServices) {
    for option in services.used_buildout_options.lock().unwrap().iter() {
        ev.mark_used("buildout", option);
    }
    let unused = ev.unused_options("buildout");
    if !unused.is_empty() {
        crate::progress::println(&unused_options_warning("buildout", &unused));
    }
}

/// Buildout's words for options nothing read (`_check_for_unused_options_in_section`).
pub(super) fn unused_options_warning(section: &str, unused: &[String]) -> String {
    let list: Vec<String> = unused.iter().map(|o| format!("'{o}'")).collect();
    format!(
        "Section `{section}` contains unused option(s): {}.\nThis may be an indication for either a typo in the option's name or a bug in the used recipe.",
        list.join(" ")
    )
}
