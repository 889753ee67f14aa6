//! Registry credentials as users already have them: the docker config file
//! (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`), its `auths` entries
//! and credential helpers (`credHelpers`, `credsStore`); `bo recipe login` writes an
//! `auths` entry there, as `docker login` does without a helper.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use base64::Engine as _;
use oci_client::secrets::RegistryAuth;

pub fn docker_config_path() -> PathBuf {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return PathBuf::from(dir).join("config.json");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    home.join(".docker").join("config.json")
}

fn read_config() -> Result<serde_json::Value, String> {
    let path = docker_config_path();
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| format!("{}: not valid JSON: {e}", path.display())),
        Err(_) => Ok(serde_json::json!({})),
    }
}

fn from_helper(helper: &str, registry: &str) -> Result<RegistryAuth, String> {
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run credential helper {program}: {e}"))?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(registry.as_bytes())
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Ok(RegistryAuth::Anonymous);
    }
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("{program}: bad answer: {e}"))?;
    let user = value["Username"].as_str().unwrap_or("").to_string();
    let secret = value["Secret"].as_str().unwrap_or("").to_string();
    Ok(if user == "<token>" {
        RegistryAuth::Bearer(secret)
    } else {
        RegistryAuth::Basic(user, secret)
    })
}

/// Credentials for `registry`, or anonymous access.
pub fn credentials(registry: &str) -> Result<RegistryAuth, String> {
    let config = read_config()?;
    if let Some(helper) = config["credHelpers"][registry].as_str() {
        return from_helper(helper, registry);
    }
    for key in [registry.to_string(), format!("https://{registry}"), format!("http://{registry}")] {
        if let Some(auth) = config["auths"][&key]["auth"].as_str() {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth)
                .map_err(|e| format!("{}: bad auth entry for {registry}: {e}", docker_config_path().display()))?;
            let text = String::from_utf8_lossy(&decoded);
            let (user, password) = text.split_once(':').unwrap_or((&text, ""));
            return Ok(RegistryAuth::Basic(user.to_string(), password.to_string()));
        }
    }
    if let Some(helper) = config["credsStore"].as_str() {
        return from_helper(helper, registry);
    }
    Ok(RegistryAuth::Anonymous)
}

/// Stores credentials for `registry` in the docker config file.
pub fn login(registry: &str, user: &str, password: &str) -> Result<PathBuf, String> {
    let path = docker_config_path();
    let mut config = read_config()?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    config["auths"][registry] = serde_json::json!({ "auth": encoded });
    std::fs::create_dir_all(path.parent().unwrap()).map_err(|e| e.to_string())?;
    let text = serde_json::to_string_pretty(&config).map_err(|e| e.to_string())?;
    crate::fsutil::write_atomically(&path, text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    }
    Ok(path)
}
