//! Capabilities: what a recipe declares it needs, what the user grants, and the one
//! place where the two meet. A capability is usable only if it is declared by the
//! recipe AND granted by the user (on the command line or in the user's own grants
//! file, never in the build's configuration, which may be untrusted).
//!
//! Without any grant a part may read the buildout directory and write its own
//! `parts/<part>` plus the directories inside the buildout that its recipe declares
//! as outputs (e.g. `bin`). Network hosts, programs, environment variables and
//! directories outside the buildout all need an explicit grant.

use std::fmt;
use std::path::{Path, PathBuf};

/// What a recipe declares (from its `describe` export).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Declared {
    pub writes: Vec<String>,
    pub outside: Vec<String>,
    pub hosts: Vec<String>,
    pub programs: Vec<String>,
    pub env: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantKind {
    Write,
    Outside,
    Host,
    Program,
    Env,
    /// Building a Python project from source (runs its build code on the host):
    /// a host capability of `python.install`, so recipes need not declare it.
    Build,
}

impl GrantKind {
    pub fn name(self) -> &'static str {
        match self {
            GrantKind::Write => "write",
            GrantKind::Outside => "outside",
            GrantKind::Host => "host",
            GrantKind::Program => "program",
            GrantKind::Env => "env",
            GrantKind::Build => "build",
        }
    }

    fn parse(s: &str) -> Option<GrantKind> {
        Some(match s {
            "write" => GrantKind::Write,
            "outside" => GrantKind::Outside,
            "host" => GrantKind::Host,
            "program" => GrantKind::Program,
            "env" => GrantKind::Env,
            "build" => GrantKind::Build,
            _ => return None,
        })
    }
}

/// One user grant: `PART:KIND=VALUE` (`*` for any part), or bound to the recipe
/// it was given for, `PART@RECIPE:KIND=VALUE` (what `bo grant` writes): a
/// configuration that gives the part another recipe loses the grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub part: String,
    /// The recipe identity the grant was given for (see [`recipe_identity`]).
    pub recipe: Option<String>,
    pub kind: GrantKind,
    pub value: String,
}

/// What identifies a part's recipe for grants: a recipe by name (bundled, or on
/// your `BO_RECIPE_PATH`) is its name with its entry (`zc.recipe.egg:scripts`, as
/// another entry may be another component); a component file or an OCI recipe is
/// its component's digest (a tag can move, a path can be rewritten).
pub fn recipe_identity(reference: &str, digest: &str) -> String {
    let reference = reference.trim();
    if reference.starts_with("oci://") || reference.ends_with(".wasm") || reference.contains('/') {
        return digest.to_string();
    }
    match reference.split_once(':') {
        Some((project, entry)) if !matches!(entry.trim(), "" | "default") => format!("{}:{}", project.trim(), entry.trim()),
        Some((project, _)) => project.trim().to_string(),
        None => reference.to_string(),
    }
}

impl std::str::FromStr for Grant {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = || format!("invalid grant {s:?}: expected PART:KIND=VALUE, KIND one of write, outside, host, program, env, build");
        let (target, value) = s.split_once('=').ok_or_else(usage)?;
        let (part, kind) = target.rsplit_once(':').ok_or_else(usage)?;
        let kind = GrantKind::parse(kind.trim()).ok_or_else(usage)?;
        let (part, recipe) = match part.split_once('@') {
            Some((part, recipe)) if !recipe.trim().is_empty() => (part, Some(recipe.trim().to_string())),
            Some(_) => return Err(usage()),
            None => (part, None),
        };
        if part.trim().is_empty() || value.trim().is_empty() {
            return Err(usage());
        }
        Ok(Grant {
            part: part.trim().to_string(),
            recipe,
            kind,
            value: value.trim().to_string(),
        })
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.recipe {
            Some(recipe) => write!(f, "{}@{recipe}:{}={}", self.part, self.kind.name(), self.value),
            None => write!(f, "{}:{}={}", self.part, self.kind.name(), self.value),
        }
    }
}

/// Everything the user granted for this run.
#[derive(Debug, Clone, Default)]
pub struct UserGrants {
    pub grants: Vec<Grant>,
}

impl UserGrants {
    /// The grants that apply to `part` whose recipe is `identity`: unbound ones,
    /// and those bound to this recipe. Also returns the grants given to the part
    /// for another recipe (which no longer apply: the configuration changed it).
    pub fn for_recipe(&self, part: &str, identity: &str) -> (UserGrants, Vec<Grant>) {
        let (mut applying, mut dropped) = (Vec::new(), Vec::new());
        for grant in &self.grants {
            match &grant.recipe {
                Some(recipe) if recipe != identity && (grant.part == part || grant.part == "*") => dropped.push(grant.clone()),
                Some(recipe) if recipe != identity => {}
                _ => applying.push(grant.clone()),
            }
        }
        (UserGrants { grants: applying }, dropped)
    }

    /// The values `part` was granted for `kind`.
    pub fn values(&self, part: &str, kind: GrantKind) -> Vec<String> {
        self.grants
            .iter()
            .filter(|g| (g.part == "*" || g.part == part) && g.kind == kind)
            .map(|g| g.value.clone())
            .collect()
    }

    /// Whether `part` was granted `value`. An `outside` grant covers the directory
    /// it names and everything below it (`--grant app:outside=/srv/app`).
    fn granted(&self, part: &str, kind: GrantKind, value: &str) -> bool {
        self.grants.iter().any(|g| {
            (g.part == "*" || g.part == part)
                && g.kind == kind
                && (g.value == "*" || g.value == value || (kind == GrantKind::Outside && Path::new(value).starts_with(&g.value)))
        })
    }
}

pub use super::grants_file::user_grants_file;

/// Whether `name` can only ever be a file name (one normal path component, no
/// separators): part names and script names become paths.
pub fn is_file_name(name: &str) -> bool {
    let mut components = Path::new(name).components();
    let single = matches!(
        (components.next(), components.next()),
        (Some(std::path::Component::Normal(_)), None)
    );
    single && !name.contains(['/', '\\'])
}

/// Why a capability was refused, with the exact remedy.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Denial {
    #[error("part {part} (recipe {recipe}) may not use {kind} {value:?}: its recipe does not declare it, so no grant can allow it")]
    Undeclared {
        part: String,
        recipe: String,
        kind: &'static str,
        value: String,
    },
    #[error("part {part} (recipe {recipe}) was denied {kind} {value:?}: grant it with `--grant {part}:{kind}={value}`")]
    NotGranted {
        part: String,
        recipe: String,
        kind: &'static str,
        value: String,
    },
    #[error("part {part} (recipe {recipe}) declares output {value:?}, which is not inside the buildout directory")]
    OutputEscapes { part: String, recipe: String, value: String },
    #[error("part {part} (recipe {recipe}) may not write {value:?}: {why}")]
    OutputRefused {
        part: String,
        recipe: String,
        value: String,
        why: String,
    },
    #[error("invalid part name {part:?}: a part name must be one path component (no '/', no '..')")]
    BadPartName { part: String },
    #[error("part {part} (recipe {recipe}) may not write {value}: a symlink on the way leads elsewhere")]
    SymlinkedOutput { part: String, recipe: String, value: String },
}

/// Where a buildout keeps things, for mapping declared outputs to directories.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub directory: PathBuf,
    pub parts_directory: PathBuf,
    pub bin_directory: PathBuf,
    /// Places bo keeps its own things (eggs, develop-eggs, caches), by what they
    /// are: no recipe may write them (see [`super::places`]).
    pub reserved: Vec<(String, PathBuf)>,
}

/// The capabilities one part may use during one recipe call.
#[derive(Debug, Clone, Default)]
pub struct PartGrant {
    pub part: String,
    pub recipe: String,
    /// Read-only: the buildout directory.
    pub read: Vec<PathBuf>,
    /// Read-write: `parts/<part>` and declared outputs inside the buildout.
    pub write: Vec<PathBuf>,
    pub declared: Declared,
    /// The entry the part's recipe reference named (`project:entry`), if any.
    pub entry: Option<String>,
    /// The `write` entries that came from `option-dir:` declarations: directories
    /// the recipe manages itself (bo creates them for the sandbox, tells the recipe
    /// through `prepared-dirs`, and records them only if the recipe returns them).
    pub option_dirs: Vec<PathBuf>,
    /// What the classic-recipe runner is told about the recipe it runs (WASI
    /// environment variables set by bo, never the user's environment).
    pub runner_env: Vec<(String, String)>,
    /// The recipe declares exactly what the user grants (a classic recipe): a
    /// refusal then names the grant to add.
    pub declares_grants: bool,
    user: UserGrants,
    layout: Layout,
}

/// Whether a host grant `pattern` (`*`, `name`, `*.suffix`) covers `host`.
pub fn host_matches(pattern: &str, host: &str) -> bool {
    pattern == "*"
        || pattern.eq_ignore_ascii_case(host)
        || pattern
            .strip_prefix("*.")
            .is_some_and(|suffix| host.ends_with(&format!(".{suffix}")))
}

impl PartGrant {
    /// Computes what `part` may do. Declared outputs inside the buildout are granted
    /// by default (`bin` means the configured `bin-directory`); each declared outside
    /// directory must be granted before the part starts, since WASI preopens are fixed
    /// when the sandbox is built.
    pub fn new(part: &str, recipe: &str, declared: &Declared, user: &UserGrants, layout: &Layout) -> Result<PartGrant, Denial> {
        let buildout_dir = layout.directory.as_path();
        // The part's name becomes a directory name: `[/home/x]` or `[../x]` would
        // point its writable directory anywhere; and it is written as a section
        // header of the state file (`[a:b]` would read back as `[a]`).
        if !is_file_name(part) || !crate::config::parser::is_section_name(part) {
            return Err(Denial::BadPartName { part: part.to_string() });
        }
        let mut write = vec![layout.parts_directory.join(part)];
        for output in &declared.writes {
            if output.starts_with("option:") || output.starts_with("option-dir:") {
                // Resolved against the part's options by `with_option_outputs`.
                continue;
            }
            let path = if output == "bin" {
                layout.bin_directory.clone()
            } else {
                crate::fsutil::abspath(buildout_dir, Path::new(output))
            };
            if !path.starts_with(buildout_dir) {
                return Err(Denial::OutputEscapes {
                    part: part.into(),
                    recipe: recipe.into(),
                    value: output.clone(),
                });
            }
            // Writing bo's state or its own places would undo the sandbox.
            if let Some(why) = super::places::refusal(layout, part, &path) {
                return Err(Denial::OutputRefused {
                    part: part.into(),
                    recipe: recipe.into(),
                    value: output.clone(),
                    why,
                });
            }
            write.push(path);
        }
        for outside in &declared.outside {
            // Lexically normalised first: `/srv/app/../../home` is not under `/srv/app`.
            let normalized = crate::fsutil::abspath(Path::new("/"), Path::new(outside));
            let value = normalized.to_string_lossy().into_owned();
            if !user.granted(part, GrantKind::Outside, &value) {
                return Err(Denial::NotGranted {
                    part: part.into(),
                    recipe: recipe.into(),
                    kind: "outside",
                    value,
                });
            }
            if let Some(why) = super::places::refusal(layout, part, &normalized) {
                return Err(Denial::OutputRefused {
                    part: part.into(),
                    recipe: recipe.into(),
                    value,
                    why,
                });
            }
            write.push(normalized);
        }
        Ok(PartGrant {
            part: part.to_string(),
            recipe: recipe.to_string(),
            read: vec![buildout_dir.to_path_buf()],
            write,
            declared: declared.clone(),
            entry: None,
            option_dirs: Vec::new(),
            runner_env: Vec::new(),
            declares_grants: false,
            user: user.clone(),
            layout: layout.clone(),
        })
    }

    /// Declared outputs named by the part's options: `option:NAME` is the directory
    /// holding the file that option names (a template's `option:output`),
    /// `option-dir:NAME` each directory the option lists, one per line (a mkdir
    /// recipe's `option-dir:paths`). Inside the buildout they are granted by default;
    /// outside it each needs an `outside` grant.
    pub fn with_option_outputs(mut self, options: &indexmap::IndexMap<String, String>) -> Result<PartGrant, Denial> {
        let buildout_dir = self.read.first().cloned().unwrap_or_default();
        for declared in self.declared.writes.clone() {
            let (name, is_dir) = if let Some(name) = declared.strip_prefix("option:") {
                (name, false)
            } else if let Some(name) = declared.strip_prefix("option-dir:") {
                (name, true)
            } else {
                continue;
            };
            let Some(value) = options.get(name) else { continue };
            let values: Vec<&str> = if is_dir {
                value.split_whitespace().collect()
            } else {
                Some(value.trim()).filter(|v| !v.is_empty()).into_iter().collect()
            };
            for value in values {
                let path = crate::fsutil::abspath(&buildout_dir, Path::new(value));
                let dir = if is_dir {
                    path
                } else {
                    path.parent().map(Path::to_path_buf).unwrap_or(path.clone())
                };
                let inside = dir.starts_with(&buildout_dir);
                if !inside && !self.user.granted(&self.part, GrantKind::Outside, &dir.to_string_lossy()) {
                    return Err(Denial::NotGranted {
                        part: self.part.clone(),
                        recipe: self.recipe.clone(),
                        kind: "outside",
                        value: dir.to_string_lossy().into_owned(),
                    });
                }
                if let Some(why) = super::places::refusal(&self.layout, &self.part, &dir) {
                    return Err(Denial::OutputRefused {
                        part: self.part.clone(),
                        recipe: self.recipe.clone(),
                        value: dir.to_string_lossy().into_owned(),
                        why,
                    });
                }
                if is_dir {
                    self.option_dirs.push(dir.clone());
                }
                self.write.push(dir);
            }
        }
        Ok(self)
    }

    fn check(&self, kind: GrantKind, value: &str, declared: &[String], matches: impl Fn(&str, &str) -> bool) -> Result<(), Denial> {
        let (part, recipe) = (self.part.clone(), self.recipe.clone());
        // A classic recipe declares what it was granted: undeclared is ungranted.
        if !declared.iter().any(|d| matches(d, value)) && !self.declares_grants {
            return Err(Denial::Undeclared {
                part,
                recipe,
                kind: kind.name(),
                value: value.to_string(),
            });
        }
        let granted = self
            .user
            .grants
            .iter()
            .any(|g| (g.part == "*" || g.part == self.part) && g.kind == kind && matches(&g.value, value));
        if !granted {
            return Err(Denial::NotGranted {
                part,
                recipe,
                kind: kind.name(),
                value: value.to_string(),
            });
        }
        Ok(())
    }

    pub fn check_host(&self, host: &str) -> Result<(), Denial> {
        self.check(GrantKind::Host, host, &self.declared.hosts, host_matches)
    }

    pub fn check_program(&self, program: &str) -> Result<(), Denial> {
        self.check(GrantKind::Program, program, &self.declared.programs, |p, v| p == "*" || p == v)
    }

    /// Whether the user granted the part a host its recipe declares (its programs
    /// may then use the network; a host grant the recipe does not declare opens
    /// nothing).
    pub fn has_declared_host_grant(&self) -> bool {
        self.user.values(&self.part, GrantKind::Host).iter().any(|granted| {
            self.declared
                .hosts
                .iter()
                .any(|declared| host_matches(declared, granted) || (granted == "*" && !declared.is_empty()))
        })
    }

    /// Environment variables the part may see: declared and granted ones only.
    pub fn visible_env(&self) -> Vec<(String, String)> {
        self.declared
            .env
            .iter()
            .filter(|name| self.user.granted(&self.part, GrantKind::Env, name))
            .filter_map(|name| std::env::var(name).ok().map(|v| (name.clone(), v)))
            .collect()
    }

    /// Refuses writable directories reached through a symlink inside the buildout
    /// (a recipe or a checkout may plant `parts/x/out -> /home/victim`): every
    /// existing component below the buildout directory must be a real directory.
    pub fn check_no_symlinks(&self) -> Result<(), Denial> {
        let Some(root) = self.read.first() else { return Ok(()) };
        for dir in &self.write {
            let Ok(below) = dir.strip_prefix(root) else { continue };
            let mut current = root.clone();
            for component in below.components() {
                current.push(component);
                if current.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
                    return Err(Denial::SymlinkedOutput {
                        part: self.part.clone(),
                        recipe: self.recipe.clone(),
                        value: dir.display().to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Whether `path` (absolute) lies in a directory the part may write.
    pub fn may_write(&self, path: &Path) -> bool {
        let path = crate::fsutil::abspath(Path::new("/"), path);
        self.write.iter().any(|dir| path.starts_with(dir))
    }

    /// Whether `path` (absolute) lies inside the buildout or a granted outside dir.
    pub fn may_own(&self, path: &Path) -> bool {
        let path = crate::fsutil::abspath(Path::new("/"), path);
        self.read.iter().chain(&self.write).any(|dir| path.starts_with(dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared() -> Declared {
        Declared {
            hosts: vec!["example.com".into()],
            programs: vec!["make".into()],
            ..Default::default()
        }
    }

    #[test]
    fn declared_and_granted() {
        let user = UserGrants {
            grants: vec!["cmmi:program=make".parse().unwrap()],
        };
        let layout = Layout {
            directory: "/b".into(),
            parts_directory: "/b/parts".into(),
            bin_directory: "/b/bin".into(),
            reserved: Vec::new(),
        };
        let g = PartGrant::new("cmmi", "zc.recipe.cmmi", &declared(), &user, &layout).unwrap();
        assert!(g.check_program("make").is_ok());
        let denied = g.check_host("example.com").unwrap_err().to_string();
        assert!(denied.contains("--grant cmmi:host=example.com"), "{denied}");
        assert!(matches!(g.check_program("sh"), Err(Denial::Undeclared { .. })));
    }

    #[test]
    fn grants_file_is_scoped_by_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("grants.toml");
        let shop = dir.path().join("shop");
        std::fs::create_dir(&shop).unwrap();
        std::fs::write(
            &file,
            format!(
                "grants = [\"*:host=pypi.org\"]\n[buildout.\"{}\"]\ngrants = [\"cmmi:program=make\"]\n",
                shop.display()
            ),
        )
        .unwrap();
        let mut here = UserGrants::default();
        here.add_from_file(&file, &shop).unwrap();
        assert_eq!(here.grants.len(), 2);
        let mut elsewhere = UserGrants::default();
        elsewhere.add_from_file(&file, dir.path()).unwrap();
        assert_eq!(elsewhere.grants, vec!["*:host=pypi.org".parse().unwrap()]);
        std::fs::write(&file, "grants = [\"cmmi:net=x\"]\n").unwrap();
        let err = UserGrants::default().add_from_file(&file, &shop).unwrap_err();
        assert!(err.starts_with(&format!("grants file {}: invalid grant", file.display())), "{err}");
        assert!(UserGrants::default().add_from_file(&dir.path().join("none.toml"), &shop).is_ok());
    }

    #[test]
    fn grant_syntax() {
        assert!("a:net=x".parse::<Grant>().is_err());
        assert_eq!("*:host=x.org".parse::<Grant>().unwrap().to_string(), "*:host=x.org");
        let bound: Grant = "cmmi@sha256:ab12:program=make".parse().unwrap();
        assert_eq!((bound.part.as_str(), bound.recipe.as_deref()), ("cmmi", Some("sha256:ab12")));
        assert_eq!(bound.to_string(), "cmmi@sha256:ab12:program=make");
        let user = UserGrants {
            grants: vec![
                bound,
                "cmmi@zc.recipe.cmmi:program=sh".parse().unwrap(),
                "cmmi:env=CC".parse().unwrap(),
            ],
        };
        let (applying, dropped) = user.for_recipe("cmmi", "zc.recipe.cmmi");
        assert_eq!(applying.grants.len(), 2);
        assert_eq!(dropped.len(), 1);
    }
}
