//! Resolution, as Buildout does it but natively: requirements are taken in order
//! (breadth first), each project gets the best version that satisfies every
//! requirement and `[versions]` pin seen so far, and a later requirement that the
//! chosen version does not satisfy is a conflict naming who required what on both
//! sides. Environment markers are evaluated for the target interpreter.

use std::collections::{HashMap, HashSet, VecDeque};
use std::str::FromStr;

use pep440_rs::{Operator, Version, VersionSpecifier, VersionSpecifiers};
use pep508_rs::{ExtraName, MarkerEnvironment, Requirement, VersionOrUrl};

use super::index::{Candidate, Index};
use super::metadata::{Metadata, normalize};
use super::tags::Tags;

/// Settings that shape resolution (`[buildout]` / part options).
#[derive(Debug, Clone, Default)]
pub struct ResolveSettings {
    /// `[versions]`: normalised project name → constraint (`1.2`, `==1.2`, `>=2`).
    pub pins: HashMap<String, String>,
    pub prefer_final: bool,
    pub allow_picked_versions: bool,
    /// Use an already installed version when it satisfies (Buildout's `-N`).
    pub newest: bool,
}

/// One resolved distribution and why it is there.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub name: String,
    pub version: Version,
    pub candidate: Candidate,
    pub metadata: Metadata,
    /// The chain of requirers, outermost first (`app -> foo`).
    pub required_by: Vec<String>,
    /// The requirement that chose it, as its requirer wrote it (`six>=1.5`),
    /// for Buildout's "Getting distribution for 'six>=1.5'.".
    pub requirement: String,
    /// Chosen without an exact pin (Buildout's "picked" versions).
    pub picked: bool,
    /// Set when a `develop` project satisfied the requirement.
    pub develop: Option<super::develop::DevelopDist>,
}

pub struct Resolver<'a> {
    pub index: &'a Index,
    pub tags: &'a Tags,
    /// Turns a source distribution into a wheel candidate (or says why not).
    pub build_sdist: &'a dyn Fn(&str, &Candidate) -> Result<Candidate, String>,
    /// `develop` projects: they satisfy requirements before any index is asked.
    pub develop: &'a [super::develop::DevelopDist],
    pub env: &'a MarkerEnvironment,
    pub settings: &'a ResolveSettings,
    /// Installed copies, consulted first when not in newest mode.
    pub installed: &'a dyn Fn(&Candidate) -> bool,
    /// The store's installed wheels of a project (normalised name) with their
    /// metadata: when not in newest mode, one that satisfies the requirement is
    /// used without asking the index (Buildout's `-N` works with the index down).
    pub installed_of: &'a dyn Fn(&str) -> Vec<(Candidate, Metadata)>,
    /// Projects the target interpreter provides (normalised names): requirements
    /// of them are satisfied without installing anything.
    pub provided: &'a [String],
}

struct Pending {
    requirement: Requirement,
    chain: Vec<String>,
}

fn chain_text(chain: &[String]) -> String {
    if chain.is_empty() {
        "the part's eggs".to_string()
    } else {
        chain.join(" -> ")
    }
}

/// Applies a `[versions]` pin to a requirement's specifiers.
pub(crate) fn constrain(requirement: &Requirement, pin: Option<&String>) -> Result<(VersionSpecifiers, bool), String> {
    let mut specifiers: Vec<VersionSpecifier> = match &requirement.version_or_url {
        Some(VersionOrUrl::VersionSpecifier(s)) => s.iter().cloned().collect(),
        Some(VersionOrUrl::Url(_)) => return Err(format!("{requirement}: URL requirements are not supported")),
        None => Vec::new(),
    };
    let Some(pin) = pin.map(|p| p.trim()).filter(|p| !p.is_empty()) else {
        let exact = specifiers.len() == 1 && matches!(specifiers[0].operator(), Operator::Equal | Operator::ExactEqual);
        return Ok((specifiers.into_iter().collect(), exact));
    };
    if pin.starts_with(['<', '>', '!', '~']) {
        let extra = VersionSpecifiers::from_str(pin).map_err(|e| format!("bad [versions] constraint {pin:?}: {e}"))?;
        specifiers.extend(extra.iter().cloned());
        return Ok((specifiers.into_iter().collect(), false));
    }
    let version = pin.trim_start_matches("==").trim();
    let version = Version::from_str(version).map_err(|e| format!("bad [versions] pin {pin:?}: {e}"))?;
    let current: VersionSpecifiers = specifiers.into_iter().collect();
    if !current.contains(&version) {
        return Err(format!(
            "The requirement ('{requirement}') is not allowed by your [versions] constraint ({version})"
        ));
    }
    let exact = VersionSpecifier::from_version(Operator::Equal, version).map_err(|e| e.to_string())?;
    Ok((VersionSpecifiers::from_iter([exact]), true))
}

impl Resolver<'_> {
    /// Resolves `requirements` to a working set, in resolution order.
    pub fn resolve(&self, requirements: &[Requirement]) -> Result<Vec<Resolved>, String> {
        let mut queue: VecDeque<Pending> = requirements
            .iter()
            .map(|r| Pending {
                requirement: r.clone(),
                chain: Vec::new(),
            })
            .collect();
        let mut chosen: Vec<Resolved> = Vec::new();
        let mut by_name: HashMap<String, usize> = HashMap::new();
        let mut base_done: HashSet<String> = HashSet::new();
        let mut extras_done: HashMap<String, HashSet<ExtraName>> = HashMap::new();
        let python = self.env.python_full_version().version.clone();
        // What Buildout shows before a version conflict: the requests, and each
        // requirement a distribution made (`Requirement of requests: urllib3<3`).
        let texts: Vec<String> = requirements.iter().map(|r| format!("'{}'", requirement_text(r))).collect();
        let mut requests = vec![format!("Base installation request: {}", texts.join(", "))];
        let conflict = |requests: &[String], name: &str| {
            let mut lines = vec![format!("Version and requirements information containing {name}:")];
            if let Some(pin) = self.settings.pins.get(&normalize(name)) {
                lines.push(format!("[versions] constraint on {name}: {pin}"));
            }
            lines.extend(requests.iter().filter(|l| l.to_lowercase().contains(&name.to_lowercase())).cloned());
            crate::progress::info(&lines.join("\n  "));
        };
        // The requests themselves are checked against [versions] first, as Buildout does.
        for requirement in requirements {
            let name = normalize(requirement.name.as_ref());
            if !self.provided.contains(&name) {
                constrain(requirement, self.settings.pins.get(&name)).inspect_err(|_| conflict(&requests, &name))?;
            }
        }
        while let Some(Pending { requirement, chain }) = queue.pop_front() {
            let name = normalize(requirement.name.as_ref());
            if self.provided.contains(&name) {
                continue;
            }
            let (specifiers, exact) = constrain(&requirement, self.settings.pins.get(&name)).inspect_err(|_| conflict(&requests, &name))?;
            let index = match by_name.get(&name) {
                Some(&i) => {
                    let existing = &chosen[i];
                    if !specifiers.contains(&existing.version) {
                        conflict(&requests, &name);
                        return Err(format!(
                            "There is a version conflict for {}: {} {} was chosen (required by {}), but {} requires '{}'",
                            existing.name,
                            existing.name,
                            existing.version,
                            chain_text(&existing.required_by),
                            chain_text(&chain),
                            requirement
                        ));
                    }
                    i
                }
                None if let Some(develop) = self.develop.iter().find(|d| normalize(&d.name) == name) => {
                    if !specifiers.contains(&develop.version) {
                        return Err(format!(
                            "The requirement ('{requirement}') is not satisfied by the develop project {} {} (required by {})",
                            develop.name,
                            develop.version,
                            chain_text(&chain)
                        ));
                    }
                    chosen.push(Resolved {
                        name: develop.name.clone(),
                        version: develop.version.clone(),
                        candidate: Candidate {
                            filename: format!("{}-{} (develop)", develop.name, develop.version),
                            url: develop.location.to_string_lossy().into_owned(),
                            version: develop.version.clone(),
                            sha256: None,
                            requires_python: None,
                            has_metadata_file: false,
                            yanked: false,
                            wheel: None,
                            origin: "develop".into(),
                        },
                        metadata: develop.metadata.clone(),
                        required_by: chain.clone(),
                        requirement: requirement_text(&requirement),
                        // Develop projects are never "picked" (Buildout's rule).
                        picked: false,
                        develop: Some(develop.clone()),
                    });
                    by_name.insert(name.clone(), chosen.len() - 1);
                    chosen.len() - 1
                }
                None => {
                    let resolved = self
                        .choose(&requirement, &specifiers, &python, &chain)
                        .map_err(|e| format!("{e} (required by {})", chain_text(&chain)))?;
                    let picked = !exact;
                    if picked && !self.settings.allow_picked_versions {
                        return Err(format!(
                            "Picked: {} = {} (required by {}), but allow-picked-versions is false: pin it in [versions]",
                            resolved.name,
                            resolved.version,
                            chain_text(&chain)
                        ));
                    }
                    chosen.push(Resolved {
                        picked,
                        required_by: chain.clone(),
                        requirement: requirement_text(&requirement),
                        ..resolved
                    });
                    by_name.insert(name.clone(), chosen.len() - 1);
                    chosen.len() - 1
                }
            };
            // Dependencies: the base ones the first time a project is reached, then
            // those of each extra the first time it is asked for.
            let first_time = base_done.insert(name.clone());
            let done = extras_done.entry(name.clone()).or_default();
            let new_extras: Vec<ExtraName> = requirement.extras.iter().filter(|e| done.insert((*e).clone())).cloned().collect();
            let dist = &chosen[index];
            let mut next_chain = chain.clone();
            next_chain.push(format!("{} {}", dist.name, dist.version));
            for dependency in &dist.metadata.requires_dist {
                let base = dependency.marker.evaluate(self.env, &[]);
                let with_extras = !new_extras.is_empty() && dependency.marker.evaluate(self.env, &new_extras);
                if (first_time && base) || (with_extras && !base) {
                    requests.push(format!(
                        "Requirement of {}: {}",
                        requirement_text(&requirement),
                        requirement_text(dependency)
                    ));
                    queue.push_back(Pending {
                        requirement: dependency.clone(),
                        chain: next_chain.clone(),
                    });
                }
            }
        }
        Ok(chosen)
    }

    fn choose(
        &self,
        requirement: &Requirement,
        specifiers: &VersionSpecifiers,
        python: &Version,
        _chain: &[String],
    ) -> Result<Resolved, String> {
        let project = requirement.name.as_ref();
        if !self.settings.newest
            && let Some(found) = self.choose_installed(project, specifiers, python)
        {
            return Ok(found);
        }
        let candidates = self.index.candidates(project)?;
        if candidates.is_empty() && self.index.settings.offline {
            return Err(format!(
                "We don't have a distribution for '{requirement}' and can't install one in offline mode (-o, or offline = true): nothing is downloaded, and neither the store nor bo's download cache has one"
            ));
        }
        if candidates.is_empty() {
            return Err(format!("Couldn't find a distribution for '{requirement}'"));
        }
        let fits = |c: &Candidate| {
            specifiers.contains(&c.version)
                && c.requires_python.as_ref().is_none_or(|rp| rp.contains(python))
                && c.wheel.as_ref().is_some_and(|w| self.tags.rank(w).is_some())
        };
        let mut usable: Vec<&Candidate> = candidates.iter().filter(|c| fits(c) && !c.yanked).collect();
        if self.settings.prefer_final && usable.iter().any(|c| !c.version.any_prerelease()) {
            usable.retain(|c| !c.version.any_prerelease());
        }
        if !self.settings.newest {
            let installed: Vec<&Candidate> = usable.iter().copied().filter(|c| (self.installed)(c)).collect();
            if !installed.is_empty() {
                usable = installed;
            }
        }
        let rank = |c: &Candidate| c.wheel.as_ref().and_then(|w| self.tags.rank(w)).unwrap_or(usize::MAX);
        let best_wheel = usable
            .into_iter()
            .max_by(|a, b| a.version.cmp(&b.version).then_with(|| rank(b).cmp(&rank(a))));
        let built;
        let best = match best_wheel {
            Some(wheel) => wheel,
            None => {
                // No wheel fits: the newest fitting source distribution, built.
                let mut sdists: Vec<&Candidate> = candidates
                    .iter()
                    .filter(|c| {
                        c.wheel.is_none()
                            && !c.yanked
                            && specifiers.contains(&c.version)
                            && c.requires_python.as_ref().is_none_or(|rp| rp.contains(python))
                    })
                    .collect();
                if self.settings.prefer_final && sdists.iter().any(|c| !c.version.any_prerelease()) {
                    sdists.retain(|c| !c.version.any_prerelease());
                }
                let Some(sdist) = sdists.into_iter().max_by(|a, b| a.version.cmp(&b.version)) else {
                    let mut versions: Vec<&Version> = candidates.iter().map(|c| &c.version).collect();
                    versions.sort();
                    versions.dedup();
                    let versions: Vec<String> = versions.iter().map(|v| v.to_string()).collect();
                    return Err(format!(
                        "Couldn't find a distribution for '{requirement}' (available: {})",
                        versions.join(", ")
                    ));
                };
                built = (self.build_sdist)(project, sdist)?;
                &built
            }
        };
        let metadata = self.index.metadata(best)?;
        Ok(Resolved {
            name: metadata.name.clone(),
            version: best.version.clone(),
            candidate: best.clone(),
            metadata,
            required_by: Vec::new(),
            requirement: String::new(),
            picked: false,
            develop: None,
        })
    }
}

impl Resolver<'_> {
    /// The newest installed wheel of `project` that fits (non-newest mode).
    fn choose_installed(&self, project: &str, specifiers: &VersionSpecifiers, python: &Version) -> Option<Resolved> {
        let mut fitting: Vec<(Candidate, Metadata)> = (self.installed_of)(&normalize(project))
            .into_iter()
            .filter(|(c, m)| {
                specifiers.contains(&c.version)
                    && m.requires_python.as_ref().is_none_or(|rp| rp.contains(python))
                    && c.wheel.as_ref().is_some_and(|w| self.tags.rank(w).is_some())
            })
            .collect();
        if self.settings.prefer_final && fitting.iter().any(|(c, _)| !c.version.any_prerelease()) {
            fitting.retain(|(c, _)| !c.version.any_prerelease());
        }
        let rank = |c: &Candidate| c.wheel.as_ref().and_then(|w| self.tags.rank(w)).unwrap_or(usize::MAX);
        let (candidate, metadata) = fitting
            .into_iter()
            .max_by(|(a, _), (b, _)| a.version.cmp(&b.version).then_with(|| rank(b).cmp(&rank(a))))?;
        Some(Resolved {
            name: metadata.name.clone(),
            version: candidate.version.clone(),
            candidate,
            metadata,
            required_by: Vec::new(),
            requirement: String::new(),
            picked: false,
            develop: None,
        })
    }
}

/// A requirement as Buildout shows it: name, extras and versions, no marker.
fn requirement_text(requirement: &Requirement) -> String {
    let mut text = requirement.name.to_string();
    if !requirement.extras.is_empty() {
        let extras: Vec<String> = requirement.extras.iter().map(|e| e.to_string()).collect();
        text.push_str(&format!("[{}]", extras.join(",")));
    }
    if let Some(pep508_rs::VersionOrUrl::VersionSpecifier(specifiers)) = &requirement.version_or_url {
        text.push_str(&specifiers.to_string());
    }
    text
}
