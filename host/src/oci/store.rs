//! The local recipe store: components by digest, manifests and configs by
//! manifest digest, and tags pointing at manifest digests (for offline use).
//! Everything is written through temporary files and renames.

use std::path::{Path, PathBuf};

use oci_client::Reference;
use oci_client::manifest::OciImageManifest;

use super::Pulled;

pub struct Store {
    root: PathBuf,
}

fn hex_of(digest: &str) -> &str {
    digest.trim_start_matches("sha256:")
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::create_dir_all(path.parent().unwrap()).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

impl Store {
    pub fn new(root: &Path) -> Store {
        Store { root: root.to_path_buf() }
    }

    fn tag_file(&self, reference: &Reference) -> PathBuf {
        let tag = reference.tag().unwrap_or("latest");
        self.root
            .join("tags")
            .join(reference.resolve_registry().replace(':', "_"))
            .join(reference.repository())
            .join(tag)
    }

    fn manifest_dir(&self, digest: &str) -> PathBuf {
        self.root.join("manifests").join(hex_of(digest))
    }

    pub fn blob(&self, digest: &str) -> PathBuf {
        self.root.join("blobs").join("sha256").join(hex_of(digest))
    }

    /// What the store has for `reference`: by digest, else by the tag last pulled.
    pub fn lookup(&self, reference: &Reference) -> Option<Pulled> {
        let digest = match reference.digest() {
            Some(d) => d.to_string(),
            None => std::fs::read_to_string(self.tag_file(reference)).ok()?.trim().to_string(),
        };
        let dir = self.manifest_dir(&digest);
        let manifest: OciImageManifest = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).ok()?).ok()?;
        let config: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("config.json")).ok()?).ok()?;
        let layer = manifest.layers.iter().find(|l| l.media_type == super::WASM_LAYER)?;
        let component = self.blob(&layer.digest);
        let bytes = std::fs::read(&component).ok()?;
        if super::sha256_digest(&bytes) != layer.digest {
            return None;
        }
        Some(Pulled {
            reference: reference.whole(),
            manifest_digest: digest,
            component_digest: layer.digest.clone(),
            component,
            config,
            size: bytes.len() as u64,
        })
    }

    pub fn save(
        &self,
        reference: &Reference,
        manifest_digest: &str,
        manifest: &OciImageManifest,
        config: &serde_json::Value,
        layer_digest: &str,
        component: &[u8],
    ) -> Result<Pulled, String> {
        let blob = self.blob(layer_digest);
        write(&blob, component)?;
        let dir = self.manifest_dir(manifest_digest);
        write(
            &dir.join("manifest.json"),
            &serde_json::to_vec_pretty(manifest).map_err(|e| e.to_string())?,
        )?;
        write(
            &dir.join("config.json"),
            &serde_json::to_vec_pretty(config).map_err(|e| e.to_string())?,
        )?;
        if reference.digest().is_none() {
            write(&self.tag_file(reference), manifest_digest.as_bytes())?;
        }
        Ok(Pulled {
            reference: reference.whole(),
            manifest_digest: manifest_digest.to_string(),
            component_digest: layer_digest.to_string(),
            component: blob,
            config: config.clone(),
            size: component.len() as u64,
        })
    }
}
