//! Which hosts bo may contact for a part's `python.install`. A recipe can read the
//! whole buildout, and requirement names and index URLs become request URLs, so an
//! untrusted index is a way to send the buildout away: an index or find-links the
//! configuration names needs the host granted (`--grant PART:host=HOST`, or
//! `buildout:host=HOST` for every part). The indexes you configured (command line,
//! default.cfg, `PIP_INDEX_URL`, `PIP_FIND_LINKS`) are yours, and PyPI stays usable
//! without a grant. Every request and every redirect hop is checked. A local index
//! or find-links directory the configuration names is read only inside its own
//! tree or a directory the user granted (`--grant buildout:outside=DIR`), as for
//! `extends`: bo would otherwise unpack a private wheel of yours into the buildout.

use std::sync::Arc;

use super::CONFIG_GRANTEE;
use super::grants::{GrantKind, UserGrants, host_matches};
use crate::config::Config;

/// PyPI's hosts: the default index and where it keeps files.
pub const PYPI_HOSTS: [&str; 2] = ["pypi.org", "files.pythonhosted.org"];

/// The hosts `python.install` may reach without a grant.
#[derive(Debug, Clone, Default)]
pub struct IndexHosts {
    trusted: Vec<String>,
    grants: UserGrants,
    /// Local indexes and find-links directories you configured, resolved.
    trusted_local: Vec<std::path::PathBuf>,
    /// What the configuration may read (its own tree, granted directories).
    tree: Option<super::extends::ExtendsPolicy>,
}

/// The local directory an index or find-links entry names, if it names one.
fn local_dir(entry: &str, base: &std::path::Path) -> Option<std::path::PathBuf> {
    match reqwest::Url::parse(entry) {
        Ok(url) if url.scheme() == "file" => url.to_file_path().ok(),
        Ok(url) if url.scheme().len() > 1 => None,
        _ => Some(crate::fsutil::abspath(base, std::path::Path::new(entry))),
    }
}

fn hosts_in(urls: &str) -> impl Iterator<Item = String> + '_ {
    urls.split_whitespace()
        .filter_map(|u| reqwest::Url::parse(u).ok())
        .map(|u| crate::net::host_of(&u))
        .filter(|h| !h.is_empty())
}

impl IndexHosts {
    pub fn new(config: &Config, grants: &UserGrants) -> IndexHosts {
        let mut trusted: Vec<String> = PYPI_HOSTS.iter().map(|h| h.to_string()).collect();
        let mut trusted_local = Vec::new();
        let cwd = std::env::current_dir().unwrap_or_default();
        for var in ["PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS"] {
            let value = std::env::var(var).unwrap_or_default();
            trusted.extend(hosts_in(&value));
            trusted_local.extend(
                value
                    .split_whitespace()
                    .filter_map(|e| local_dir(e, &cwd))
                    .map(|d| super::canonical(&d)),
            );
        }
        for (section, options) in &config.annotated {
            for option in ["index", "find-links"] {
                if let Some(value) = options.get(option)
                    && super::is_users(Some(value.origin()))
                {
                    let raw = config.raw.get(section).and_then(|s| s.get(option)).cloned().unwrap_or_default();
                    trusted.extend(hosts_in(&raw));
                    trusted_local.extend(
                        raw.split_whitespace()
                            .filter(|e| !e.contains('$'))
                            .filter_map(|e| local_dir(e, &config.directory))
                            .map(|d| super::canonical(&d)),
                    );
                }
            }
        }
        IndexHosts {
            trusted,
            grants: grants.clone(),
            trusted_local,
            tree: Some(super::extends::ExtendsPolicy::new(&config.config_file, grants)),
        }
    }

    /// Whether bo may read the index or find-links `entry` (relative to the
    /// buildout directory `base`) for the configuration: URLs are checked by host
    /// as they are fetched; a local directory must be yours, the configuration's
    /// own or granted.
    pub fn check_local(&self, option: &str, entry: &str, base: &std::path::Path) -> Result<(), String> {
        let Some(dir) = local_dir(entry, base) else {
            return Ok(());
        };
        let resolved = super::canonical(&dir);
        if self.trusted_local.iter().any(|d| resolved.starts_with(d)) {
            return Ok(());
        }
        match &self.tree {
            Some(tree) => tree
                .own_or_granted_dir(&resolved)
                .map_err(|why| format!("{option} = {entry}: bo will not read it for this configuration: {why}")),
            None => Ok(()),
        }
    }

    /// The check for `part`'s requests: your indexes, PyPI, and the hosts granted
    /// to the part or to the configuration.
    pub fn for_part(&self, part: &str) -> crate::net::HostCheck {
        let mut allowed = self.trusted.clone();
        allowed.extend(self.grants.values(part, GrantKind::Host));
        allowed.extend(self.grants.values(CONFIG_GRANTEE, GrantKind::Host));
        Arc::new(move |host: &str| allowed.iter().any(|pattern| host_matches(pattern, host)))
    }
}
