//! Python distributions, natively: no pip, no setuptools. Find distributions on the
//! index and in find-links ([`index`]), resolve requirements with `[versions]` pins
//! ([`resolve`]), install wheels into the shared store ([`wheel`]), and write
//! scripts whose `sys.path` names exact versions ([`scripts`]). Recipes reach this
//! through the `python` interface of `wit/recipe`.

pub mod custom;
pub mod develop;
pub mod index;
pub mod lock;
pub mod metadata;
pub mod pure_sdist;
pub mod resolve;
pub mod scripts;
pub mod sdist;
pub mod tags;
pub mod wheel;

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::Requirement;

use crate::config::condition::TargetEnv;
use index::{Index, IndexSettings};
use resolve::{ResolveSettings, Resolver};

/// The public index pip uses when nothing else is configured.
pub const DEFAULT_INDEX: &str = "https://pypi.org/simple/";

/// Everything needed to install distributions for one part.
#[derive(Debug, Clone)]
pub struct InstallSettings {
    /// The target interpreter (`executable`).
    pub executable: String,
    pub index: IndexSettings,
    pub resolve: ResolveSettings,
    /// The distribution store (`eggs-directory`).
    pub store: PathBuf,
    /// The part installing (for messages).
    pub part: String,
    /// `[buildout] develop` projects, preferred over any index.
    pub develop: Vec<develop::DevelopDist>,
    /// Projects the user allows bo to build from source (`--grant PART:build=NAME`,
    /// `*` for any): building runs the project's code on this machine.
    pub allow_build: Vec<String>,
    /// A fixed target instead of probing `executable`: the classic-recipe runner's
    /// CPython on WASI. Its source distributions are made into pure-Python wheels
    /// from their egg-info ([`pure_sdist`]), never built.
    pub fixed_target: Option<TargetEnv>,
    /// Projects the target provides itself, never installed (the runner's
    /// `zc.buildout`, `setuptools`, `pip`, `wheel`).
    pub provided: Vec<String>,
}

/// One distribution of a part's working set.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Installed {
    pub name: String,
    pub version: String,
    pub location: PathBuf,
    pub console_scripts: Vec<(String, String)>,
    pub required_by: Vec<String>,
    pub picked: bool,
    /// The file it was installed from, its sha256, and where that came from.
    pub filename: String,
    pub sha256: String,
    pub source: String,
}

/// Probes an interpreter once per process.
pub fn target(executable: &str) -> Result<TargetEnv, String> {
    static CACHE: std::sync::Mutex<Option<HashMap<String, TargetEnv>>> = std::sync::Mutex::new(None);
    let mut cache = CACHE.lock().unwrap();
    let cache = cache.get_or_insert_with(HashMap::new);
    if let Some(env) = cache.get(executable) {
        return Ok(env.clone());
    }
    let env = TargetEnv::probe_python(executable).ok_or_else(|| format!("cannot run the Python interpreter {executable}"))?;
    cache.insert(executable.to_string(), env.clone());
    Ok(env)
}

fn filename_of(path: &std::path::Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The candidate for a wheel bo made locally from `sdist` (`how`: built, made pure).
fn wheel_made_from(
    sdist: &index::Candidate,
    wheel: &std::path::Path,
    filename: String,
    parsed: Option<tags::WheelName>,
    how: &str,
) -> index::Candidate {
    index::Candidate {
        filename,
        url: wheel.to_string_lossy().into_owned(),
        version: sdist.version.clone(),
        sha256: None,
        requires_python: sdist.requires_python.clone(),
        has_metadata_file: false,
        yanked: false,
        wheel: parsed,
        origin: format!("{} ({how} {})", sdist.origin, sdist.filename),
    }
}

/// The source distribution `sdist` made into a pure-Python wheel (cached by the
/// sdist's content), as a candidate the resolver installs like any wheel.
fn pure_wheel_candidate(
    index: &Index,
    project: &str,
    sdist: &index::Candidate,
    cache: &std::path::Path,
) -> Result<index::Candidate, String> {
    let file = index.fetch(sdist)?;
    let digest = {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        let mut reader = std::fs::File::open(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        std::io::copy(&mut reader, &mut hasher).map_err(|e| format!("{}: {e}", file.display()))?;
        hex::encode(hasher.finalize())
    };
    let out_dir = cache.join("pure").join(&digest[..32.min(digest.len())]);
    let version = sdist.version.to_string();
    let wheel = pure_sdist::wheel_from_sdist(&file, project, &version, &out_dir)?;
    let filename = wheel.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(wheel_made_from(
        sdist,
        &wheel,
        filename,
        tags::WheelName::parse(&filename_of(&wheel)),
        "made pure from",
    ))
}

/// Resolves `requirements` and installs the working set into the store.
/// The `source` of a develop distribution (never locked: it is the local tree).
pub const DEVELOP_SOURCE: &str = "develop";

/// How many distributions are fetched and unpacked at once.
const MAX_CONCURRENT_FETCHES: usize = 8;

/// One resolved distribution into the store: fetched (unless already unpacked),
/// checked against the index's sha256, unpacked.
fn fetch_and_install(
    index: &Index,
    dist: &resolve::Resolved,
    store: &std::path::Path,
    counter: &crate::progress::Counter,
) -> Result<Installed, String> {
    if let Some(develop) = &dist.develop {
        return Ok(Installed {
            name: develop.name.clone(),
            version: develop.version.to_string(),
            location: develop.location.clone(),
            console_scripts: develop.console_scripts.clone(),
            required_by: dist.required_by.clone(),
            picked: false,
            filename: String::new(),
            sha256: String::new(),
            source: DEVELOP_SOURCE.to_string(),
        });
    }
    // The wheel's sha256 is kept beside the store entry, so a later run locks the
    // same digest without the file at hand; an entry is used only if it holds the
    // content the index names (when it names one).
    // Keyed by where the file came from as well: a store may be shared, and
    // another buildout's index may offer a different file under the same name.
    let hash_file = store.join(".hashes").join(format!(
        "{}.{}.sha256",
        dist.candidate.filename,
        index::url_key(&dist.candidate.url)
    ));
    let recorded = std::fs::read_to_string(&hash_file).map(|h| h.trim().to_string());
    let expected = dist.candidate.sha256.clone().or_else(|| recorded.as_ref().ok().cloned());
    let entry = wheel::installed_entry(store, &dist.candidate.filename, expected.as_deref());
    let (path, sha256) = match (entry.as_ref(), expected) {
        (Some(_), Some(hash)) => (None, hash),
        _ => {
            let path = index.fetch(&dist.candidate)?;
            counter.inc(&dist.candidate.filename);
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
            if let Some(want) = &dist.candidate.sha256
                && !want.eq_ignore_ascii_case(&hash)
            {
                return Err(format!(
                    "{}: sha256 mismatch: the index says {want}, the file is {hash}",
                    dist.candidate.filename
                ));
            }
            (Some(path), hash)
        }
    };
    let installed = match (path, entry) {
        (Some(path), _) => wheel::install(&path, store),
        (None, Some(entry)) => wheel::read_installed(&entry, &dist.candidate.filename),
        (None, None) => unreachable!("an entry or a fetched file"),
    }
    .map_err(|e| e.to_string())?;
    if !hash_file.is_file() || recorded.as_deref().ok() != Some(sha256.as_str()) {
        let _ = std::fs::create_dir_all(hash_file.parent().unwrap());
        let _ = std::fs::write(&hash_file, &sha256);
    }
    // Where it came from, for `-N` to lock it as found there without the index.
    if dist.candidate.origin != wheel::INSTALLED_ORIGIN {
        wheel::record_source(&installed.location, &dist.candidate.url, &dist.candidate.origin);
    }
    Ok(Installed {
        name: dist.name.clone(),
        version: dist.version.to_string(),
        location: installed.location,
        console_scripts: installed.console_scripts,
        required_by: dist.required_by.clone(),
        picked: dist.picked,
        filename: dist.candidate.filename.clone(),
        sha256,
        source: dist.candidate.origin.clone(),
    })
}

pub fn install(requirements: &[String], settings: &InstallSettings) -> Result<Vec<Installed>, String> {
    let env = match &settings.fixed_target {
        Some(fixed) => fixed.clone(),
        None => target(&settings.executable)?,
    };
    let marker_env = env
        .marker_environment()
        .ok_or("cannot describe the target interpreter for markers")?;
    let tags = tags::Tags::for_interpreter(&env);
    let index = Index::new(settings.index.clone());
    let parsed: Vec<Requirement> = requirements
        .iter()
        .map(|r| Requirement::from_str(r).map_err(|e| format!("invalid requirement {r:?}: {e}")))
        .collect::<Result<_, _>>()?;
    let store = settings.store.clone();
    let installed = move |c: &index::Candidate| wheel::installed_entry(&store, &c.filename, c.sha256.as_deref()).is_some();
    let build_sdist = |project: &str, sdist: &index::Candidate| -> Result<index::Candidate, String> {
        if settings.fixed_target.is_some() {
            return pure_wheel_candidate(&index, project, sdist, &settings.index.cache);
        }
        let allowed = settings
            .allow_build
            .iter()
            .any(|p| p == "*" || metadata::normalize(p) == metadata::normalize(project));
        if !allowed {
            return Err(format!(
                "{project} {} has no wheel that fits this Python, only a source distribution; building it runs the project's build code on this machine: grant it with `--grant {}:build={project}`",
                sdist.version, settings.part
            ));
        }
        let file = index.fetch(sdist)?;
        let install_build_requirements = |requirements: &[String]| -> Result<Vec<PathBuf>, String> {
            let build_settings = InstallSettings {
                // The build environment follows the index settings, not the part's pins.
                resolve: ResolveSettings {
                    pins: Default::default(),
                    ..settings.resolve.clone()
                },
                ..settings.clone()
            };
            Ok(install(requirements, &build_settings)?.into_iter().map(|d| d.location).collect())
        };
        let wheel = sdist::build_wheel(
            &file,
            &settings.executable,
            &settings.index.cache.join("built"),
            &install_build_requirements,
            &sdist::HookEnv::default(),
        )?;
        let filename = wheel.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let parsed =
            tags::WheelName::parse(&filename).ok_or_else(|| format!("the build of {} made {filename}, not a wheel", sdist.filename))?;
        if tags.rank(&parsed).is_none() {
            return Err(format!(
                "the build of {} made {filename}, which does not fit this Python",
                sdist.filename
            ));
        }
        Ok(wheel_made_from(sdist, &wheel, filename, Some(parsed), "built from"))
    };
    let store = settings.store.clone();
    let installed_of = move |project: &str| -> Vec<(index::Candidate, metadata::Metadata)> {
        wheel::installed_of(&store, project)
            .into_iter()
            .filter_map(|(filename, sha256, entry)| {
                let (url, origin) = wheel::recorded_source(&entry)?;
                let dist = wheel::read_installed(&entry, &filename).ok()?;
                let parsed = tags::WheelName::parse(&filename)?;
                let version = Version::from_str(&parsed.version).ok()?;
                let candidate = index::Candidate {
                    url,
                    filename,
                    version,
                    sha256: Some(sha256),
                    requires_python: dist.metadata.requires_python.clone(),
                    has_metadata_file: false,
                    yanked: false,
                    wheel: Some(parsed),
                    origin,
                };
                Some((candidate, dist.metadata))
            })
            .collect()
    };
    let resolver = Resolver {
        installed_of: &installed_of,
        index: &index,
        tags: &tags,
        build_sdist: &build_sdist,
        develop: &settings.develop,
        env: &marker_env,
        settings: &settings.resolve,
        installed: &installed,
        provided: &settings.provided,
    };
    let resolved = resolver.resolve(&parsed)?;
    // Fetch and unpack concurrently (downloads dominate a fresh install); results
    // keep the resolution order.
    let was_installed: Vec<bool> = resolved
        .iter()
        .map(|d| {
            d.develop.is_some() || wheel::installed_entry(&settings.store, &d.candidate.filename, d.candidate.sha256.as_deref()).is_some()
        })
        .collect();
    let missing = was_installed.iter().filter(|i| !**i).count();
    let counter = crate::progress::counter("Downloading", missing as u64);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Result<Installed, String>>>> = resolved.iter().map(|_| Default::default()).collect();
    let workers = resolved.len().clamp(1, MAX_CONCURRENT_FETCHES);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(dist) = resolved.get(i) else { break };
                    let result = fetch_and_install(&index, dist, &settings.store, &counter);
                    *results[i].lock().unwrap() = Some(result);
                }
            });
        }
    });
    // Buildout's lines for each distribution it had to get, in resolution order.
    let mut out = Vec::new();
    for (dist, result) in resolved.iter().zip(results) {
        let fetched = dist.develop.is_none() && !was_installed[out.len()];
        if fetched {
            crate::progress::info(&format!("Getting distribution for '{}'.", dist.requirement));
        }
        out.push(result.into_inner().unwrap().expect("every distribution was handled")?);
        if fetched {
            crate::progress::info(&format!("Got {} {}.", dist.metadata.name, dist.version));
        }
    }
    Ok(out)
}
