//! Which configuration files and URLs an untrusted configuration may pull in with
//! `extends`. Local files must lie in the configuration's own tree: the directory
//! of the file the user named or, when that is inside a version-control checkout,
//! the checkout (SlapOS software releases extend `../../component/...`), and in no
//! hidden directory there; or in the user's `~/.buildout`, or a directory the user
//! granted (`--grant buildout:outside=DIR`). Otherwise `extends = ~/.aws/credentials`
//! would hand a secret, read as configuration, to every recipe. Remote files need
//! their host granted (`--grant buildout:host=HOST`), checked again on every
//! redirect hop. Downloaded configurations are cached only where bo may write for
//! the configuration (see [`super::settings`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::grants::{GrantKind, UserGrants, host_matches};
use super::{CONFIG_GRANTEE, canonical, hidden_component};
use crate::config::layers::{HostCheck, Origin, ReadPolicy};

#[derive(Debug, Clone)]
pub struct ExtendsPolicy {
    /// The configuration's own tree(s), resolved.
    roots: Vec<PathBuf>,
    /// `~/.buildout`, resolved.
    user_dir: Option<PathBuf>,
    /// Directories granted with `buildout:outside`, resolved.
    outside: Vec<PathBuf>,
    /// Hosts granted with `buildout:host`.
    hosts: Vec<String>,
}

/// The root of the version-control checkout holding `dir`, unless that is the
/// user's home or above it (a home directory kept in git is not one project).
fn checkout_root(dir: &Path) -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(|h| canonical(Path::new(&h)));
    for ancestor in dir.ancestors() {
        if home.as_deref().is_some_and(|h| h.starts_with(ancestor)) {
            return None;
        }
        if [".git", ".hg", ".svn", ".bzr"].iter().any(|vcs| ancestor.join(vcs).exists()) {
            return Some(ancestor.to_path_buf());
        }
    }
    None
}

impl ExtendsPolicy {
    /// The policy for the configuration file `config_file` (as the user named it)
    /// under the user's `grants`.
    pub fn new(config_file: &Path, grants: &UserGrants) -> ExtendsPolicy {
        let dir = canonical(config_file.parent().unwrap_or(Path::new(".")));
        let mut roots = vec![dir.clone()];
        roots.extend(checkout_root(&dir));
        ExtendsPolicy {
            roots,
            user_dir: super::user_defaults_dir(),
            outside: grants
                .values(CONFIG_GRANTEE, GrantKind::Outside)
                .iter()
                .map(|g| if g == "*" { PathBuf::from("/") } else { canonical(Path::new(g)) })
                .collect(),
            hosts: grants.values(CONFIG_GRANTEE, GrantKind::Host),
        }
    }

    fn in_own_tree(&self, resolved: &Path) -> Result<(), String> {
        for root in &self.roots {
            if resolved.starts_with(root) {
                return match hidden_component(root, resolved) {
                    Some(hidden) => Err(format!("it lies in the hidden directory {hidden}")),
                    None => Ok(()),
                };
            }
        }
        Err(format!(
            "it lies outside the configuration's own tree ({})",
            self.roots.last().map(|r| r.display().to_string()).unwrap_or_default()
        ))
    }

    fn host_granted(hosts: &[String], host: &str) -> bool {
        hosts.iter().any(|pattern| host_matches(pattern, host))
    }
}

impl ExtendsPolicy {
    /// Whether `path` lies in the configuration's own tree, the user's
    /// `~/.buildout` or a directory granted with `buildout:outside`; the refusal
    /// names the grant.
    pub fn own_or_granted(&self, path: &Path) -> Result<(), String> {
        self.check(path, false)
    }

    /// Like [`ExtendsPolicy::own_or_granted`], for a directory bo reads as a
    /// whole (a find-links directory): the refusal names the directory itself.
    pub fn own_or_granted_dir(&self, dir: &Path) -> Result<(), String> {
        self.check(dir, true)
    }

    fn check(&self, path: &Path, whole_dir: bool) -> Result<(), String> {
        let resolved = canonical(path);
        let user_or_granted = self.user_dir.iter().chain(&self.outside).any(|d| resolved.starts_with(d));
        if user_or_granted {
            return Ok(());
        }
        self.in_own_tree(&resolved).map_err(|why| {
            let grant_dir = if whole_dir {
                &resolved
            } else {
                resolved.parent().unwrap_or(&resolved)
            };
            format!("{why}: grant it with `--grant {CONFIG_GRANTEE}:outside={}`", grant_dir.display())
        })
    }
}

impl ReadPolicy for ExtendsPolicy {
    fn local(&self, path: &Path, from: &str) -> Result<(), String> {
        self.own_or_granted(path).map_err(|why| {
            format!(
                "{from} extends {}, which bo will not read for it (a configuration may extend files of its own tree only): {why}",
                path.display()
            )
        })
    }

    fn remote(&self, url: &str, from: &str) -> Result<HostCheck, String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("{from} extends {url}, which is not a valid URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("{from} extends {url}: only http, https and file URLs can be extended"));
        }
        let host = crate::net::host_of(&parsed);
        if !Self::host_granted(&self.hosts, &host) {
            return Err(format!(
                "{from} extends {url}, which would make bo fetch from {host}: grant it with `--grant {CONFIG_GRANTEE}:host={host}`"
            ));
        }
        let hosts = self.hosts.clone();
        Ok(Arc::new(move |host: &str| Self::host_granted(&hosts, host)))
    }

    fn cache(&self, dir: &Path, origin: Option<&Origin>) -> Result<(), String> {
        if super::is_users(origin) {
            return Ok(());
        }
        let resolved = canonical(dir);
        if self.outside.iter().any(|d| resolved.starts_with(d)) {
            return Ok(());
        }
        let refuse = |why: String| {
            format!(
                "extends-cache = {} (set in {}) {why}; bo keeps downloaded configurations there for the configuration only inside its tree: grant it with `--grant {CONFIG_GRANTEE}:outside={}`",
                dir.display(),
                origin.map(|o| o.location()).unwrap_or_default(),
                resolved.display()
            )
        };
        if resolved.starts_with(super::bo_cache_root()) {
            return Err(refuse("lies in bo's own cache".into()));
        }
        match self.roots.first() {
            Some(root) if resolved.starts_with(root) => match hidden_component(root, &resolved) {
                Some(hidden) => Err(refuse(format!("lies in the hidden directory {hidden}"))),
                None => Ok(()),
            },
            _ => Err(refuse("lies outside the buildout directory".into())),
        }
    }
}
