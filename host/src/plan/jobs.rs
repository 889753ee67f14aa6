//! Running the parts of a build: each install or update is a job; independent jobs
//! run in parallel (in Buildout's order, never two sharing an output directory), and
//! each result is recorded on the calling thread as it arrives: paths checked, a
//! failure undone, the state file written.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;

use super::build::{Build, options_list};
use super::installed::{INSTALLED_PATHS, InstalledState, PartOptions, SIGNATURE};
use super::removal::{list_entries, remove_recorded};
use super::{BuildError, fail};
use crate::runtime::{LoadedRecipe, RecipeError};
use crate::trust::grants::PartGrant;

/// One part to install or update.
pub(super) struct Job {
    pub(super) part: String,
    pub(super) update: bool,
    pub(super) recipe: Arc<LoadedRecipe>,
    pub(super) grant: PartGrant,
    /// Parts of this run that must be done first.
    pub(super) dependencies: Vec<String>,
}

/// What a finished job needs to be recorded.
struct Started {
    job: Job,
    doing: String,
    part_dir_existed: bool,
    /// Entries of the shared output directories before the call, to undo a failure.
    before: Vec<PathBuf>,
    /// Output directories the sandbox had to create (outermost new ancestor each):
    /// they belong to the part.
    made: Vec<PathBuf>,
}

/// For each directory, its outermost ancestor that does not exist yet (inside `root`).
fn missing_ancestors(dirs: &[PathBuf], root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in dirs {
        let mut top = None;
        let mut current = dir.as_path();
        while !current.exists() && current.starts_with(root) && current != root {
            top = Some(current.to_path_buf());
            match current.parent() {
                Some(parent) => current = parent,
                None => break,
            }
        }
        if let Some(top) = top.filter(|t| !out.contains(t)) {
            out.push(top);
        }
    }
    out
}

/// The bookkeeping side of a build: the state file and what is installed.
pub(super) struct Finish<'a> {
    pub(super) settings: &'a crate::config::BuildoutSettings,
    pub(super) state: &'a mut InstalledState,
    pub(super) state_path: &'a Option<PathBuf>,
    pub(super) installed_parts: &'a mut Vec<String>,
    pub(super) new_options: &'a IndexMap<String, PartOptions>,
    /// Each of this run's parts' place in Buildout's order (from 1; parts installed
    /// before and not in this run are 0): the state file lists them so, whatever
    /// order parallel jobs finish in.
    pub(super) install_rank: &'a std::collections::HashMap<String, usize>,
    /// Whether `installed_parts` is already in that order.
    pub(super) ordered: bool,
    /// Per part to install, its raw options no substitution read: those its
    /// recipe did not read either are reported as unused once it is installed.
    pub(super) unread: &'a std::collections::HashMap<String, Vec<String>>,
}

/// Runs the jobs, independent ones in parallel: a job starts once the parts it
/// depends on are done and no running part manages the same `option-dir:`
/// directory. Jobs start in Buildout's order, so the log reads the same;
/// results are recorded on this thread as they finish. After a failure no new job
/// starts, and the failed ones are undone only once the running ones are done, so
/// that what a part running beside them wrote into a shared directory (`bin`) is
/// recorded as theirs and kept.
pub(super) fn run_jobs(build: &Build, jobs: Vec<Job>, max_parallel: usize, ctx: &mut Finish<'_>) -> Result<(), BuildError> {
    let mut pending: std::collections::VecDeque<Job> = jobs.into();
    // Running parts and the directories they manage through `option-dir:` outputs
    // (two cmmi parts sharing one `shared` build directory must not run together).
    let mut running: Vec<(String, Vec<PathBuf>)> = Vec::new();
    let mut done: Vec<String> = Vec::new();
    let mut failure: Option<BuildError> = None;
    let mut failed = Vec::new();
    let (sender, receiver) = std::sync::mpsc::channel::<(Started, Result<Vec<String>, RecipeError>)>();
    std::thread::scope(|scope| {
        loop {
            if crate::runtime::interrupted() && failure.is_none() {
                failure = Some(fail(&[], "interrupted"));
            }
            while failure.is_none() && running.len() < max_parallel {
                let Some(job) = pending.front() else { break };
                let ready = job.dependencies.iter().all(|d| done.contains(d));
                let overlaps = |a: &PathBuf, b: &PathBuf| a.starts_with(b) || b.starts_with(a);
                let clash = running
                    .iter()
                    .any(|(_, dirs)| dirs.iter().any(|d| job.grant.option_dirs.iter().any(|o| overlaps(d, o))));
                if !ready || clash {
                    break;
                }
                let job = pending.pop_front().unwrap();
                let doing = if job.update {
                    format!("Updating {}.", job.part)
                } else {
                    format!("Installing {}.", job.part)
                };
                crate::progress::info(&doing);
                let use_install = !job.update || !job.recipe.manifest.has_update;
                if job.update && use_install {
                    crate::progress::info(&format!(
                        "The recipe for {} doesn't define an update method. Using its install method.",
                        job.part
                    ));
                }
                let part_dir = ctx.settings.parts_directory.join(&job.part);
                let started = Started {
                    part_dir_existed: part_dir.exists(),
                    made: missing_ancestors(&job.grant.write[1..], &ctx.settings.directory),
                    before: list_entries(&job.grant.write[1..]),
                    doing,
                    job,
                };
                running.push((started.job.part.clone(), started.job.grant.option_dirs.clone()));
                let mut options = ctx.new_options[&started.job.part].clone();
                options.shift_remove(SIGNATURE);
                let list = options_list(&options);
                let sender = sender.clone();
                let services = build.services.clone();
                let runtime = build.runtime.clone();
                let task = crate::progress::task(&started.doing);
                scope.spawn(move || {
                    let _task = task;
                    let job = &started.job;
                    let part = job.part.as_str();
                    let result = runtime.call(&job.recipe, job.grant.clone(), services, |r, s| {
                        if use_install {
                            r.call_install(s, part, &list)
                        } else {
                            r.call_update(s, part, &list)
                        }
                    });
                    let _ = sender.send((started, result));
                });
            }
            if running.is_empty() {
                break;
            }
            let (started, result) = receiver.recv().expect("a running job reports back");
            running.retain(|(p, _)| p != &started.job.part);
            let part = started.job.part.clone();
            let installed_new = !started.job.update;
            if result.is_err() {
                failed.push((started, result));
                failure.get_or_insert_with(|| fail(&[], "a part failed"));
                continue;
            }
            match finish(ctx, started, result) {
                Ok(()) => {
                    if installed_new {
                        warn_unused(&build.services, ctx.unread, &part);
                    }
                    done.push(part)
                }
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
    });
    // The failed jobs, now that nothing runs beside them; the first one's error is
    // the build's.
    let mut first_error = None;
    for (started, result) in failed {
        if let Err(e) = finish(ctx, started, result) {
            first_error.get_or_insert(e);
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Buildout's unused-option warning for a part just installed, when its recipe
/// says what it read (recipes built with bo's SDK do).
fn warn_unused(services: &super::recipes::BuildServices, unread: &std::collections::HashMap<String, Vec<String>>, part: &str) {
    let read = services.options_read.lock().unwrap();
    let (Some(read), Some(candidates)) = (read.get(part), unread.get(part)) else {
        return;
    };
    let unused: Vec<String> = candidates.iter().filter(|o| !read.contains(*o)).cloned().collect();
    if !unused.is_empty() {
        crate::progress::println(&super::apply::unused_options_warning(part, &unused));
    }
}

/// Records a finished job: checks the paths it returned, undoes a failure, and
/// writes the state file.
fn finish(ctx: &mut Finish<'_>, started: Started, result: Result<Vec<String>, RecipeError>) -> Result<(), BuildError> {
    let Started {
        job,
        doing,
        part_dir_existed,
        before,
        made,
    } = started;
    let (part, update, grant) = (&job.part, job.update, &job.grant);
    let directory = &ctx.settings.directory;
    let installing = "Installing.";
    let part_dir = ctx.settings.parts_directory.join(part);
    let paths = result.and_then(|paths| {
        paths
            .into_iter()
            .map(|p| {
                let abs = crate::config::abspath(directory, Path::new(&p));
                // Recorded if inside the buildout or the part's grants; removed on
                // uninstall only if the part could write it (see remove_recorded).
                if grant.may_own(&abs) {
                    Ok(abs.to_string_lossy().into_owned())
                } else {
                    Err(RecipeError::Failed {
                        part: part.clone(),
                        recipe: job.recipe.name.clone(),
                        message: format!("install returned {p}, which is outside the buildout directory and the part's grants"),
                    })
                }
            })
            .collect::<Result<Vec<String>, RecipeError>>()
    });
    let mut paths = match paths {
        Ok(paths) => paths,
        Err(e) => {
            // Undo what the failed call created in the directories it could write,
            // but not what parts that ran beside it recorded as theirs.
            let claimed: Vec<PathBuf> = ctx
                .state
                .parts
                .iter()
                .filter(|(name, _)| *name != part)
                .flat_map(|(_, options)| {
                    options
                        .get(INSTALLED_PATHS)
                        .cloned()
                        .unwrap_or_default()
                        .lines()
                        .map(PathBuf::from)
                        .collect::<Vec<_>>()
                })
                .collect();
            let theirs = |path: &Path| claimed.iter().any(|c| c.starts_with(path) || path.starts_with(c));
            // Through handles on the part's directories: the failed recipe may
            // have left links that lead elsewhere, and they are removed, not followed.
            let dirs = crate::trust::cap::Dirs::open(&grant.write);
            if !part_dir_existed || !update {
                let _ = crate::trust::cap::remove_entry(&part_dir);
            }
            for entry in grant.write[1..].iter().flat_map(|d| dirs.entries(d)) {
                if !before.contains(&entry) && !theirs(&entry) {
                    let _ = dirs.remove(&entry);
                }
            }
            for dir in made.iter().filter(|d| !theirs(d)) {
                let _ = crate::trust::cap::remove_entry(dir);
            }
            if update {
                let old_files = ctx
                    .state
                    .parts
                    .get(part)
                    .and_then(|o| o.get(INSTALLED_PATHS).cloned())
                    .unwrap_or_default();
                ctx.installed_parts.retain(|p| p != part);
                ctx.state.parts.shift_remove(part);
                remove_recorded(&old_files, directory, &grant.write);
                if let Some(path) = ctx.state_path.as_ref().filter(|_| ctx.state.exists) {
                    let _ = InstalledState::append(path, &[("parts", &ctx.installed_parts.join(" "))]);
                }
            }
            return Err(fail(&[installing, &doing], e.to_string()));
        }
    };
    // Directories bo made for `option-dir:` outputs are the recipe's to record.
    let recipe_managed = |dir: &PathBuf| grant.option_dirs.iter().any(|o| o.starts_with(dir));
    for dir in made.iter().filter(|d| d.exists() && !recipe_managed(d)) {
        let dir = dir.to_string_lossy().into_owned();
        if !paths.iter().any(|p| Path::new(&dir).starts_with(p)) {
            paths.push(dir);
        }
    }
    // bo made parts/<part> for the sandbox: keep it only if the recipe used it.
    let covered = paths.iter().any(|p| part_dir.starts_with(p) || Path::new(p).starts_with(&part_dir));
    if std::fs::read_dir(&part_dir).map(|mut d| d.next().is_none()).unwrap_or(false) && !covered {
        let _ = std::fs::remove_dir(&part_dir);
    } else if part_dir.exists() && !paths.iter().any(|p| part_dir.starts_with(p)) && !update {
        paths.retain(|p| !Path::new(p).starts_with(&part_dir));
        paths.push(part_dir.to_string_lossy().into_owned());
    }

    let mut need_save = true;
    if update {
        let old_files: Vec<String> = ctx
            .state
            .parts
            .get(part)
            .and_then(|o| o.get(INSTALLED_PATHS).cloned())
            .unwrap_or_default()
            .split('\n')
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        let added: Vec<String> = paths.iter().filter(|p| !old_files.contains(p)).cloned().collect();
        need_save = !added.is_empty();
        paths = old_files.into_iter().chain(added).collect();
    }
    let mut saved = ctx.new_options[part].clone();
    saved.insert(INSTALLED_PATHS.into(), paths.join("\n"));
    ctx.state.parts.insert(part.clone(), saved);
    // Kept in Buildout's order: sorted once, then each finished part inserted in
    // its place (no sort per part: hundreds of parts stay linear).
    let rank = |p: &String| ctx.install_rank.get(p).copied().unwrap_or(0);
    ctx.installed_parts.retain(|p| p != part);
    if !ctx.ordered {
        ctx.installed_parts.sort_by_key(rank);
        ctx.ordered = true;
    }
    let at = ctx.installed_parts.partition_point(|p| rank(p) <= rank(part));
    ctx.installed_parts.insert(at, part.clone());
    ctx.state.buildout.insert("parts".into(), ctx.installed_parts.join(" "));
    if let Some(path) = ctx.state_path {
        if need_save || !ctx.state.exists {
            ctx.state.save(path).map_err(|e| fail(&[installing], e.to_string()))?;
            ctx.state.exists = true;
        } else {
            InstalledState::append(path, &[("parts", &ctx.installed_parts.join(" "))]).map_err(|e| fail(&[installing], e.to_string()))?;
        }
    }
    Ok(())
}
