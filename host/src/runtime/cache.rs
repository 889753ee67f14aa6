//! The precompiled-component cache. Compiling a component with Cranelift takes from
//! tens of milliseconds (Rust) to seconds (Python, JS); loading a precompiled one
//! takes about a millisecond. Entries are keyed by the component's sha256 and the
//! engine's compatibility hash (precompiled code is tied to the exact wasmtime build
//! and settings), and written atomically, so a warm run never compiles.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

pub struct ComponentCache {
    root: PathBuf,
    dir: PathBuf,
}

impl ComponentCache {
    pub fn new(root: PathBuf, engine: &Engine) -> ComponentCache {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let dir = root.join("precompiled").join(format!("{:016x}", hasher.finish()));
        ComponentCache { root, dir }
    }

    fn entry(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{}.cwasm", digest.trim_start_matches("sha256:")))
    }

    /// The precompiled component for `digest`, if the cache has it.
    pub fn precompiled(&self, engine: &Engine, digest: &str) -> Option<Component> {
        let entry = self.entry(digest);
        // SAFETY: the file was written by `Component::serialize` of an engine with
        // the same compatibility hash (it is in the path), into bo's own cache.
        entry
            .is_file()
            .then(|| unsafe { Component::deserialize_file(engine, &entry) }.ok())
            .flatten()
    }

    /// The manifest `describe` returned for `digest`, if cached.
    pub fn manifest(&self, digest: &str) -> Option<serde_json::Value> {
        let text = std::fs::read_to_string(self.entry(digest).with_extension("manifest.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub fn store_manifest(&self, digest: &str, manifest: &serde_json::Value) {
        let _ = store(&self.entry(digest).with_extension("manifest.json"), manifest.to_string().as_bytes());
    }

    /// The sha256 of a component file, remembered by path, size and modification
    /// time so that a warm run does not read the file.
    pub fn file_digest(&self, path: &Path) -> std::io::Result<String> {
        let meta = std::fs::metadata(path)?;
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let absolute = std::fs::canonicalize(path)?;
        let key = hex::encode(Sha256::digest(format!("{}\0{}\0{modified}", absolute.display(), meta.len())));
        let memo = self.root.join("digests").join(&key[..32]);
        if let Ok(digest) = std::fs::read_to_string(&memo)
            && digest.starts_with("sha256:")
        {
            return Ok(digest);
        }
        let digest = digest(&std::fs::read(path)?);
        let _ = store(&memo, digest.as_bytes());
        Ok(digest)
    }

    /// The component for `bytes`: deserialized from the cache, else compiled and
    /// stored for next time (a cache that cannot be written only costs speed).
    pub fn component(&self, engine: &Engine, digest: &str, bytes: &[u8]) -> anyhow::Result<Component> {
        let entry = self.entry(digest);
        if entry.is_file() {
            // SAFETY: the file was written by `Component::serialize` of an engine with
            // the same compatibility hash (it is in the path), into bo's own cache.
            if let Ok(component) = unsafe { Component::deserialize_file(engine, &entry) } {
                return Ok(component);
            }
        }
        let component = Component::new(engine, bytes)?;
        if let Ok(serialized) = component.serialize() {
            let _ = store(&entry, &serialized);
        }
        Ok(component)
    }
}

fn store(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = crate::net::temp_path_beside(path);
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// bo's cache root: `BO_CACHE_DIR`, else `$XDG_CACHE_HOME/bo`, else `~/.cache/bo`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BO_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("bo");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    home.join(".cache").join("bo")
}
