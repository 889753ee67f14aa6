//! The precompiled-component cache. Compiling a component with Cranelift takes from
//! tens of milliseconds (Rust) to seconds (Python, JS); loading a precompiled one
//! takes about a millisecond. Entries are keyed by the component's sha256 and the
//! engine's compatibility hash (precompiled code is tied to the exact wasmtime build
//! and settings), and written atomically, so a warm run never compiles.
//!
//! Precompiled code is native code: `Component::deserialize*` runs whatever the
//! file holds, which is why it is `unsafe`. So bo treats its own cache as something
//! an attacker will try to write. Each entry has a record written by bo, apart from
//! it (`records/`), holding the entry's own sha256 and the identity of the file bo
//! wrote (device, inode, size, modification and change times: any write to the file,
//! or a file put in its place, changes them). An entry is deserialized only from the
//! file bo opened and checked (never reopened by path), and only if its identity
//! matches the record, or, failing that, its content hashes to the recorded digest.
//! Anything else is refused and compiled again. The trust boundary keeps every
//! configuration value and recipe output out of the cache directory.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

pub use crate::fsutil::default_cache_dir;

pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

pub struct ComponentCache {
    root: PathBuf,
    dir: PathBuf,
    /// The engine's compatibility hash (as the directory name has it).
    compatibility: u64,
}

/// What bo recorded about an entry it wrote.
#[derive(serde::Serialize, serde::Deserialize, Default, Clone, PartialEq)]
struct Record {
    /// The sha256 of the precompiled file.
    sha256: String,
    identity: Identity,
    /// What the component's `describe` returned, once asked.
    #[serde(default)]
    manifest: Option<serde_json::Value>,
}

/// What identifies one file as written: a rewrite, a rename over it or a touch
/// changes at least one of these (the change time cannot be set back).
#[derive(serde::Serialize, serde::Deserialize, Default, Clone, PartialEq, Debug)]
struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl Identity {
    fn of(meta: &std::fs::Metadata) -> Identity {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Identity {
                dev: meta.dev(),
                ino: meta.ino(),
                size: meta.size(),
                mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
                ctime_ns: meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128,
            }
        }
        #[cfg(not(unix))]
        Identity {
            size: meta.len(),
            ..Default::default()
        }
    }
}

/// Opens `path` for reading without following a symlink at its end.
fn open_no_follow(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
    options.open(path)
}

impl ComponentCache {
    pub fn new(root: PathBuf, engine: &Engine) -> ComponentCache {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let compatibility = hasher.finish();
        let dir = root.join("precompiled").join(format!("{compatibility:016x}"));
        ComponentCache { root, dir, compatibility }
    }

    fn key(digest: &str) -> &str {
        digest.trim_start_matches("sha256:")
    }

    fn entry(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{}.cwasm", Self::key(digest)))
    }

    fn record_path(&self, digest: &str) -> PathBuf {
        self.dir.join("records").join(format!("{}.json", Self::key(digest)))
    }

    fn record(&self, digest: &str) -> Option<Record> {
        let text = std::fs::read(self.record_path(digest)).ok()?;
        serde_json::from_slice(&text).ok()
    }

    fn store_record(&self, digest: &str, record: &Record) {
        if let Ok(json) = serde_json::to_vec(record) {
            let _ = store(&self.record_path(digest), &json);
        }
    }

    /// The precompiled component for `digest`, if the cache has one bo wrote.
    pub fn precompiled(&self, engine: &Engine, digest: &str) -> Option<Component> {
        let mut record = self.record(digest)?;
        let mut file = open_no_follow(&self.entry(digest)).ok()?;
        let meta = file.metadata().ok()?;
        if !meta.is_file() {
            return None;
        }
        let identity = Identity::of(&meta);
        if identity == record.identity {
            // The file bo wrote, unchanged since: map it through the descriptor
            // that was checked (a path could be swapped in between).
            #[cfg(target_os = "linux")]
            {
                use std::os::fd::AsRawFd;
                let by_descriptor = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
                // SAFETY: the descriptor is the file bo wrote with `serialize` for
                // an engine with this compatibility hash (it is in the path), and its
                // identity matches bo's record of that write.
                if let Ok(component) = unsafe { Component::deserialize_file(engine, &by_descriptor) } {
                    return Some(component);
                }
            }
        }
        // Moved, copied back or touched: trust the content only if it hashes to
        // what bo recorded; read once, checked and used from memory.
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.read_to_end(&mut bytes).ok()?;
        if hex::encode(Sha256::digest(&bytes)) != record.sha256 {
            return None;
        }
        // SAFETY: these bytes hash to what bo recorded when it serialized them.
        let component = unsafe { Component::deserialize(engine, &bytes) }.ok()?;
        record.identity = identity;
        self.store_record(digest, &record);
        Some(component)
    }

    /// The manifest `describe` returned for `digest`, if recorded.
    pub fn manifest(&self, digest: &str) -> Option<serde_json::Value> {
        self.record(digest)?.manifest
    }

    pub fn store_manifest(&self, digest: &str, manifest: &serde_json::Value) {
        if let Some(mut record) = self.record(digest) {
            record.manifest = Some(manifest.clone());
            self.store_record(digest, &record);
        }
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
    pub fn component(&self, engine: &Engine, name: &str, digest: &str, bytes: &[u8]) -> anyhow::Result<Component> {
        match self.precompiled(engine, digest).or_else(|| self.shipped(engine, digest)) {
            Some(component) => Ok(component),
            None => self.compile(engine, name, digest, bytes),
        }
    }

    /// Compiles `bytes` (which neither the cache nor bo's build has) and stores
    /// the code for next time.
    pub fn compile(&self, engine: &Engine, name: &str, digest: &str, bytes: &[u8]) -> anyhow::Result<Component> {
        // Compiling a large component takes seconds: say so (once per recipe).
        if bytes.len() > 4 << 20 {
            crate::progress::info(&format!("Compiling {name} ({} MiB, once)...", bytes.len() >> 20));
        }
        let component = Component::new(engine, bytes)?;
        if let Ok(serialized) = component.serialize() {
            self.keep(digest, &serialized);
        }
        Ok(component)
    }

    /// A bundled recipe's code as bo's build precompiled it, for an engine like
    /// this one (and kept in the cache for the next run, which maps it).
    pub fn shipped(&self, engine: &Engine, digest: &str) -> Option<Component> {
        let shipped = super::bundled::PRECOMPILED
            .iter()
            .find(|(d, _, _)| *d == digest)
            .filter(|_| super::bundled::PRECOMPILED_FOR == Some(self.compatibility));
        let (_, code_sha256, code) = shipped?;
        // Written to the cache first, then mapped from there as a warm run maps
        // it: only the pages used are read, and the 35 MB of a Python recipe's
        // code are not copied into memory as well (its sha256 is known from the
        // build, so recording it hashes nothing).
        self.keep_hashed(digest, code, code_sha256);
        if let Some(component) = self.precompiled(engine, digest) {
            return Some(component);
        }
        // A cache that cannot be written: from bo's own bytes.
        // SAFETY: native code built into bo's own binary by its build, for an
        // engine with this compatibility hash.
        if let Ok(component) = unsafe { Component::deserialize(engine, code) } {
            return Some(component);
        }
        None
    }

    /// Stores `serialized` as the entry for `digest`, with bo's record of it.
    fn keep(&self, digest: &str, serialized: &[u8]) {
        self.keep_hashed(digest, serialized, &hex::encode(Sha256::digest(serialized)));
    }

    /// Like [`ComponentCache::keep`], for code whose sha256 is known.
    fn keep_hashed(&self, digest: &str, serialized: &[u8], sha256: &str) {
        let entry = self.entry(digest);
        if store(&entry, serialized).is_ok()
            && let Ok(meta) = std::fs::symlink_metadata(&entry)
        {
            self.store_record(
                digest,
                &Record {
                    sha256: sha256.to_string(),
                    identity: Identity::of(&meta),
                    manifest: None,
                },
            );
        }
    }
}

/// Writes `bytes` to `path` atomically: a fresh temporary file beside it, renamed
/// over it (a link at `path` is replaced, never followed).
fn store(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = crate::fsutil::temp_path_beside(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&tmp).and_then(|mut f| std::io::Write::write_all(&mut f, bytes));
    match written.and_then(|_| std::fs::rename(&tmp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A precompiled entry replaced behind bo's back (native code an attacker
    /// wrote) is never deserialized; a copy of the same bytes still is.
    #[test]
    fn tampered_entries_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        let engine = Engine::new(&config).unwrap();
        let cache = ComponentCache::new(dir.path().to_path_buf(), &engine);
        let wat = wat_component();
        let d = digest(&wat);
        cache.component(&engine, "test", &d, &wat).unwrap();
        assert!(cache.precompiled(&engine, &d).is_some());
        let entry = cache.entry(&d);
        let good = std::fs::read(&entry).unwrap();
        // Same bytes, new file: accepted by content.
        std::fs::remove_file(&entry).unwrap();
        std::fs::write(&entry, &good).unwrap();
        assert!(cache.precompiled(&engine, &d).is_some());
        // Other bytes: refused.
        let mut bad = good.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        std::fs::write(&entry, &bad).unwrap();
        assert!(cache.precompiled(&engine, &d).is_none());
        // No record: refused.
        std::fs::write(&entry, &good).unwrap();
        std::fs::remove_file(cache.record_path(&d)).unwrap();
        assert!(cache.precompiled(&engine, &d).is_none());
    }

    fn wat_component() -> Vec<u8> {
        // The smallest component: an empty one, in binary form.
        vec![0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]
    }
}
