//! Recipes as OCI artifacts, in the CNCF wasm layout that wkg and oras use: an image
//! manifest whose config is `application/vnd.wasm.config.v0+json` (with the
//! component's world and, under `bo`, the recipe's declared capabilities) and one
//! `application/wasm` layer. Pulled artifacts go into a content-addressed store, so
//! a build that names `oci://...` works offline once the artifact is there.
//! Credentials come from the docker config file (and its credential helpers).

pub mod auth;
pub mod store;

use std::path::{Path, PathBuf};

use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::manifest::OciImageManifest;
use oci_client::{Client, Reference};
use sha2::{Digest, Sha256};

pub const WASM_LAYER: &str = "application/wasm";
pub const WASM_CONFIG: &str = "application/vnd.wasm.config.v0+json";
pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct OciOptions {
    /// Plain HTTP, allowed only for registries on the loopback interface.
    pub insecure: bool,
    /// An extra CA certificate (PEM) to trust besides the system store.
    pub ca_file: Option<PathBuf>,
    pub offline: bool,
    /// Where pulled artifacts are kept.
    pub store: PathBuf,
}

/// A recipe fetched from a registry (or the store).
#[derive(Debug, Clone)]
pub struct Pulled {
    pub reference: String,
    /// The manifest's digest: what `bo.lock` records.
    pub manifest_digest: String,
    /// The component's digest and where it is stored.
    pub component_digest: String,
    pub component: PathBuf,
    pub config: serde_json::Value,
    pub size: u64,
}

/// Parses `[oci://]registry/ns/name[:tag][@sha256:...]`.
pub fn parse_reference(reference: &str) -> Result<Reference, String> {
    let text = reference.trim().trim_start_matches("oci://");
    text.parse::<Reference>()
        .map_err(|e| format!("invalid OCI reference {reference:?}: {e}"))
}

fn is_loopback(registry: &str) -> bool {
    let host = registry.rsplit_once(':').map(|(h, _)| h).unwrap_or(registry);
    matches!(host, "127.0.0.1" | "localhost" | "[::1]" | "::1") || host.starts_with("127.")
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the network runtime: {e}"))
}

fn client(reference: &Reference, options: &OciOptions) -> Result<Client, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let registry = reference.resolve_registry().to_string();
    let mut config = ClientConfig::default();
    if options.insecure {
        if !is_loopback(&registry) {
            return Err(format!(
                "--insecure is only allowed for registries on 127.0.0.1 or localhost, not {registry}"
            ));
        }
        config.protocol = ClientProtocol::HttpsExcept(vec![registry.clone()]);
    }
    if let Some(ca) = &options.ca_file {
        let data = std::fs::read(ca).map_err(|e| format!("cannot read CA file {}: {e}", ca.display()))?;
        config.extra_root_certificates.push(oci_client::client::Certificate {
            encoding: oci_client::client::CertificateEncoding::Pem,
            data,
        });
    }
    Ok(Client::new(config))
}

/// Turns a registry error into a message naming the registry and reference.
fn registry_error(reference: &Reference, action: &str, error: oci_client::errors::OciDistributionError) -> String {
    use oci_client::errors::OciDistributionError as E;
    let registry = reference.resolve_registry();
    let what = reference.whole();
    let text = error.to_string();
    match &error {
        E::AuthenticationFailure(_) | E::UnauthorizedError { .. } => {
            format!(
                "registry {registry} refused to {action} {what} (unauthorized): log in with `bo recipe login {registry}` or check the credentials in the docker config"
            )
        }
        E::ImageManifestNotFoundError(_) => format!("registry {registry}: {what} not found"),
        E::ServerError { code: 404, .. } => format!("registry {registry}: {what} not found"),
        E::ServerError { code: 401, .. } => {
            format!("registry {registry} refused to {action} {what} (401 unauthorized): log in with `bo recipe login {registry}`")
        }
        E::DigestError(_) => {
            format!("registry {registry}: {what}: content does not match its digest ({text}); refusing it")
        }
        _ if text.contains("404")
            || text.to_lowercase().contains("not found")
            || text.contains("manifest unknown")
            || text.contains("name unknown") =>
        {
            format!("registry {registry}: {what} not found")
        }
        _ if text.contains("401") || text.to_lowercase().contains("unauthorized") => {
            format!("registry {registry} refused to {action} {what} (unauthorized): log in with `bo recipe login {registry}`")
        }
        _ => format!("registry {registry}: cannot {action} {what}: {text}"),
    }
}

pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The wasm OCI config for a component, with bo's recipe manifest under `bo`.
pub fn wasm_config(
    component: &[u8],
    world: &str,
    exports: Vec<String>,
    imports: Vec<String>,
    recipe: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "created": humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [sha256_digest(component)],
        "component": { "exports": exports, "imports": imports, "target": world },
        "bo": recipe,
    })
}

/// Pushes a component with its config; returns the manifest digest.
pub fn push(component: &[u8], config: &serde_json::Value, reference: &str, options: &OciOptions) -> Result<String, String> {
    let reference = parse_reference(reference)?;
    let client = client(&reference, options)?;
    let auth = auth::credentials(reference.resolve_registry())?;
    let layer = ImageLayer::new(component.to_vec(), WASM_LAYER.to_string(), None);
    let config_bytes = serde_json::to_vec(config).map_err(|e| e.to_string())?;
    let config = Config::new(config_bytes, WASM_CONFIG.to_string(), None);
    let manifest = OciImageManifest::build(std::slice::from_ref(&layer), &config, None);
    let manifest_bytes = serde_json::to_vec(&manifest).map_err(|e| e.to_string())?;
    let digest = sha256_digest(&manifest_bytes);
    runtime()?
        .block_on(async {
            client.store_auth_if_needed(reference.resolve_registry(), &auth).await;
            for (data, digest) in [
                (layer.data.clone(), layer.sha256_digest()),
                (config.data.clone(), config.sha256_digest()),
            ] {
                client.push_blob(&reference, data, &digest).await?;
            }
            client
                .push_manifest_raw(&reference, manifest_bytes.clone(), MANIFEST.parse().unwrap())
                .await
        })
        .map_err(|e| registry_error(&reference, "push", e))?;
    Ok(digest)
}

/// Pulls a recipe into the store (or finds it there) and returns it.
pub fn pull(reference_text: &str, options: &OciOptions) -> Result<Pulled, String> {
    let reference = parse_reference(reference_text)?;
    let store = store::Store::new(&options.store);
    if let Some(found) = store.lookup(&reference) {
        if reference.digest().is_some() || options.offline {
            return Ok(found);
        }
    }
    if options.offline {
        return Err(format!("{reference_text} is not in the recipe store and bo is offline"));
    }
    let client = client(&reference, options)?;
    let auth = auth::credentials(reference.resolve_registry())?;
    let (manifest, digest, config, layer) = runtime()?.block_on(async {
        client.store_auth_if_needed(reference.resolve_registry(), &auth).await;
        let (manifest, digest, config) = client
            .pull_manifest_and_config(&reference, &auth)
            .await
            .map_err(|e| registry_error(&reference, "pull", e))?;
        let layers: Vec<_> = manifest.layers.iter().filter(|l| l.media_type == WASM_LAYER).collect();
        if layers.len() != 1 {
            let types: Vec<&str> = manifest.layers.iter().map(|l| l.media_type.as_str()).collect();
            return Err(format!(
                "registry {}: {} is not a wasm component artifact: expected one {WASM_LAYER} layer, found [{}]",
                reference.resolve_registry(),
                reference.whole(),
                types.join(", ")
            ));
        }
        let mut bytes = Vec::new();
        client
            .pull_blob(&reference, layers[0], &mut bytes)
            .await
            .map_err(|e| registry_error(&reference, "pull", e))?;
        Ok::<_, String>((manifest.clone(), digest, config, (layers[0].digest.clone(), bytes)))
    })?;
    let (layer_digest, bytes) = layer;
    if sha256_digest(&bytes) != layer_digest {
        return Err(format!(
            "registry {}: {}: the component does not match its digest {layer_digest} (truncated or tampered); refusing it",
            reference.resolve_registry(),
            reference.whole()
        ));
    }
    if let Some(want) = reference.digest()
        && want != digest
    {
        return Err(format!(
            "registry {}: asked for {want}, got manifest {digest}",
            reference.resolve_registry()
        ));
    }
    let config: serde_json::Value = serde_json::from_str(&config).unwrap_or(serde_json::Value::Null);
    store.save(&reference, &digest, &manifest, &config, &layer_digest, &bytes)
}

/// Whether `path` looks like a component (not a core module or anything else).
pub fn is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[4..8] == [0x0d, 0x00, 0x01, 0x00]
}

/// A file's bytes, checked to be a component.
pub fn read_component(path: &Path) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !is_component(&bytes) {
        return Err(format!("{} is not a WebAssembly component", path.display()));
    }
    Ok(bytes)
}
