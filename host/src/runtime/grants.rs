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
}

impl GrantKind {
    pub fn name(self) -> &'static str {
        match self {
            GrantKind::Write => "write",
            GrantKind::Outside => "outside",
            GrantKind::Host => "host",
            GrantKind::Program => "program",
            GrantKind::Env => "env",
        }
    }

    fn parse(s: &str) -> Option<GrantKind> {
        Some(match s {
            "write" => GrantKind::Write,
            "outside" => GrantKind::Outside,
            "host" => GrantKind::Host,
            "program" => GrantKind::Program,
            "env" => GrantKind::Env,
            _ => return None,
        })
    }
}

/// One user grant: `PART:KIND=VALUE` (`*` for any part).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub part: String,
    pub kind: GrantKind,
    pub value: String,
}

impl std::str::FromStr for Grant {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = || format!("invalid grant {s:?}: expected PART:KIND=VALUE, KIND one of write, outside, host, program, env");
        let (target, value) = s.split_once('=').ok_or_else(usage)?;
        let (part, kind) = target.split_once(':').ok_or_else(usage)?;
        let kind = GrantKind::parse(kind.trim()).ok_or_else(usage)?;
        if part.trim().is_empty() || value.trim().is_empty() {
            return Err(usage());
        }
        Ok(Grant {
            part: part.trim().to_string(),
            kind,
            value: value.trim().to_string(),
        })
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}={}", self.part, self.kind.name(), self.value)
    }
}

/// Everything the user granted for this run.
#[derive(Debug, Clone, Default)]
pub struct UserGrants {
    pub grants: Vec<Grant>,
}

impl UserGrants {
    fn granted(&self, part: &str, kind: GrantKind, value: &str) -> bool {
        self.grants
            .iter()
            .any(|g| (g.part == "*" || g.part == part) && g.kind == kind && (g.value == "*" || g.value == value))
    }
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
}

/// Where a buildout keeps things, for mapping declared outputs to directories.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub directory: PathBuf,
    pub parts_directory: PathBuf,
    pub bin_directory: PathBuf,
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
    user: UserGrants,
}

fn host_matches(pattern: &str, host: &str) -> bool {
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
        let mut write = vec![layout.parts_directory.join(part)];
        for output in &declared.writes {
            if output.starts_with("option:") {
                // Resolved against the part's options by `with_option_outputs`.
                continue;
            }
            let path = if output == "bin" {
                layout.bin_directory.clone()
            } else {
                crate::config::abspath(buildout_dir, Path::new(output))
            };
            if !path.starts_with(buildout_dir) {
                return Err(Denial::OutputEscapes {
                    part: part.into(),
                    recipe: recipe.into(),
                    value: output.clone(),
                });
            }
            write.push(path);
        }
        for outside in &declared.outside {
            if !user.granted(part, GrantKind::Outside, outside) {
                return Err(Denial::NotGranted {
                    part: part.into(),
                    recipe: recipe.into(),
                    kind: "outside",
                    value: outside.clone(),
                });
            }
            write.push(PathBuf::from(outside));
        }
        Ok(PartGrant {
            part: part.to_string(),
            recipe: recipe.to_string(),
            read: vec![buildout_dir.to_path_buf()],
            write,
            declared: declared.clone(),
            entry: None,
            user: user.clone(),
        })
    }

    /// Declared outputs of the form `option:NAME` (e.g. a template recipe's
    /// `option:output`): the directory holding the file that option names. Inside
    /// the buildout it is granted by default, outside it needs an `outside` grant.
    pub fn with_option_outputs(mut self, options: &indexmap::IndexMap<String, String>) -> Result<PartGrant, Denial> {
        let buildout_dir = self.read.first().cloned().unwrap_or_default();
        for declared in self.declared.writes.clone() {
            let Some(name) = declared.strip_prefix("option:") else { continue };
            let Some(value) = options.get(name).filter(|v| !v.trim().is_empty()) else {
                continue;
            };
            let file = crate::config::abspath(&buildout_dir, Path::new(value.trim()));
            let dir = file.parent().map(Path::to_path_buf).unwrap_or(file.clone());
            let inside = dir.starts_with(&buildout_dir);
            if !inside && !self.user.granted(&self.part, GrantKind::Outside, &dir.to_string_lossy()) {
                return Err(Denial::NotGranted {
                    part: self.part.clone(),
                    recipe: self.recipe.clone(),
                    kind: "outside",
                    value: dir.to_string_lossy().into_owned(),
                });
            }
            self.write.push(dir);
        }
        Ok(self)
    }

    fn check(&self, kind: GrantKind, value: &str, declared: &[String], matches: impl Fn(&str, &str) -> bool) -> Result<(), Denial> {
        let (part, recipe) = (self.part.clone(), self.recipe.clone());
        if !declared.iter().any(|d| matches(d, value)) {
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

    /// Environment variables the part may see: declared and granted ones only.
    pub fn visible_env(&self) -> Vec<(String, String)> {
        self.declared
            .env
            .iter()
            .filter(|name| self.user.granted(&self.part, GrantKind::Env, name))
            .filter_map(|name| std::env::var(name).ok().map(|v| (name.clone(), v)))
            .collect()
    }

    /// Whether `path` (absolute) lies in a directory the part may write.
    pub fn may_write(&self, path: &Path) -> bool {
        let path = crate::config::abspath(Path::new("/"), path);
        self.write.iter().any(|dir| path.starts_with(dir))
    }

    /// Whether `path` (absolute) lies inside the buildout or a granted outside dir.
    pub fn may_own(&self, path: &Path) -> bool {
        let path = crate::config::abspath(Path::new("/"), path);
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
        };
        let g = PartGrant::new("cmmi", "zc.recipe.cmmi", &declared(), &user, &layout).unwrap();
        assert!(g.check_program("make").is_ok());
        let denied = g.check_host("example.com").unwrap_err().to_string();
        assert!(denied.contains("--grant cmmi:host=example.com"), "{denied}");
        assert!(matches!(g.check_program("sh"), Err(Denial::Undeclared { .. })));
    }

    #[test]
    fn grant_syntax() {
        assert!("a:net=x".parse::<Grant>().is_err());
        assert_eq!("*:host=x.org".parse::<Grant>().unwrap().to_string(), "*:host=x.org");
    }
}
