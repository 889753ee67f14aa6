//! Which hosts bo may contact for a part's `python.install`. A recipe can read the
//! whole buildout, and requirement names and index URLs become request URLs, so an
//! untrusted index is a way to send the buildout away: an index or find-links the
//! configuration names needs the host granted (`--grant PART:host=HOST`, or
//! `buildout:host=HOST` for every part). The indexes you configured (command line,
//! default.cfg, `PIP_INDEX_URL`, `PIP_FIND_LINKS`) are yours, and PyPI stays usable
//! without a grant. Every request and every redirect hop is checked.

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
        for var in ["PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS"] {
            trusted.extend(hosts_in(&std::env::var(var).unwrap_or_default()));
        }
        for (section, options) in &config.annotated {
            for option in ["index", "find-links"] {
                if let Some(value) = options.get(option)
                    && super::is_users(Some(value.origin()))
                {
                    let raw = config.raw.get(section).and_then(|s| s.get(option)).cloned().unwrap_or_default();
                    trusted.extend(hosts_in(&raw));
                }
            }
        }
        IndexHosts {
            trusted,
            grants: grants.clone(),
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
