//! The target interpreter and platform: what section conditions, environment
//! markers and wheel tags are evaluated against. Probed by running the interpreter
//! once (`BO_PYTHON`, else `python3`), with bo's own platform as the fallback.

use std::process::Command;

use pep508_rs::{MarkerEnvironment, MarkerEnvironmentBuilder};

/// What identifies the interpreter `python` would start, without starting it: the
/// file it resolves to on PATH (and its real path, size and modification time), and
/// what steers version managers (`PYENV_VERSION`, `VIRTUAL_ENV`, pyenv's global
/// version file and the `.python-version` files above the working directory).
/// `None` if `python` cannot be found.
fn interpreter_fingerprint(python: &str) -> Option<String> {
    use sha2::{Digest, Sha256};
    use std::path::{Path, PathBuf};
    let found: PathBuf = if python.contains('/') {
        PathBuf::from(python)
    } else {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|d| d.join(python))
            .find(|p| p.is_file())?
    };
    let stamp = |p: &Path| -> String {
        std::fs::metadata(p)
            .map(|m| format!("{}:{:?}", m.len(), m.modified().ok()))
            .unwrap_or_default()
    };
    let real = std::fs::canonicalize(&found).ok()?;
    let mut key = format!("{python}\0{}\0{}\0{}", found.display(), real.display(), stamp(&real));
    for var in ["PYENV_VERSION", "VIRTUAL_ENV", "CONDA_PREFIX", "PYENV_ROOT"] {
        key.push_str(&format!("\0{var}={}", std::env::var(var).unwrap_or_default()));
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    key.push_str(&stamp(&home.join(".pyenv/version")));
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            key.push_str(&stamp(&dir.join(".python-version")));
        }
    }
    Some(hex::encode(Sha256::digest(key.as_bytes()))[..32].to_string())
}

/// Facts about the target interpreter and platform that conditions can test.
#[derive(Debug, Clone)]
pub struct TargetEnv {
    pub python_version: (u32, u32, u32),
    pub implementation: String,
    pub sys_platform: String,
    pub os_name: String,
    pub platform_system: String,
    pub platform_machine: String,
    pub platform_release: String,
    pub platform_version: String,
    pub pointer_bits: u32,
    pub little_endian: bool,
    /// The C library's version where it is glibc (for manylinux wheel tags).
    pub glibc: Option<(u32, u32)>,
    /// The interpreter's own path (`sys.executable`): what a version manager's
    /// shim (pyenv) resolves to.
    pub executable: Option<String>,
}

impl TargetEnv {
    /// Asks the interpreter (`BO_PYTHON`, else `python3` on PATH) for its facts;
    /// falls back to bo's own platform with Python 3.11 if none can be run.
    pub fn probe() -> TargetEnv {
        let python = std::env::var("BO_PYTHON").unwrap_or_else(|_| "python3".to_string());
        TargetEnv::probe_python(&python).unwrap_or_else(TargetEnv::native)
    }

    /// Asks `python` for its facts; `None` if it cannot be run. The answer is
    /// kept in bo's cache under a fingerprint of the interpreter (see
    /// [`interpreter_fingerprint`]): starting Python, through a pyenv shim say, can
    /// cost more than a whole no-op build.
    pub fn probe_python(python: &str) -> Option<TargetEnv> {
        let memo = interpreter_fingerprint(python).map(|key| crate::fsutil::default_cache_dir().join("interpreters-2").join(key));
        if let Some(text) = memo.as_ref().and_then(|m| std::fs::read_to_string(m).ok())
            && let Some(env) = TargetEnv::parse_probe(&text)
        {
            return Some(env);
        }
        let script = "import sys,platform,os;v=sys.version_info;print(v[0],v[1],v[2],\
            platform.python_implementation(),sys.platform,os.name,platform.system(),\
            platform.machine(),platform.release(),'-'.join(platform.libc_ver()),sep='\\n');print(platform.version());print(sys.executable)";
        let out = Command::new(python)
            .args(["-c", script])
            .output()
            .ok()
            .filter(|o| o.status.success())?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let env = TargetEnv::parse_probe(&text)?;
        if let Some(memo) = memo {
            let _ = std::fs::create_dir_all(memo.parent().unwrap_or(std::path::Path::new(".")));
            let tmp = crate::fsutil::temp_path_beside(&memo);
            let _ = std::fs::write(&tmp, &text).and_then(|_| std::fs::rename(&tmp, &memo));
        }
        Some(env)
    }

    fn parse_probe(text: &str) -> Option<TargetEnv> {
        {
            let lines: Vec<&str> = text.lines().collect();
            if lines.len() >= 11 {
                let num = |s: &str| s.trim().parse().unwrap_or(0);
                let glibc = lines[9].strip_prefix("glibc-").and_then(|v| {
                    let (major, minor) = v.split_once('.')?;
                    Some((major.parse().ok()?, minor.parse().ok()?))
                });
                return Some(TargetEnv {
                    python_version: (num(lines[0]), num(lines[1]), num(lines[2])),
                    implementation: lines[3].to_string(),
                    sys_platform: lines[4].to_string(),
                    os_name: lines[5].to_string(),
                    platform_system: lines[6].to_string(),
                    platform_machine: lines[7].to_string(),
                    platform_release: lines[8].to_string(),
                    platform_version: lines[10].to_string(),
                    pointer_bits: usize::BITS,
                    little_endian: cfg!(target_endian = "little"),
                    glibc,
                    executable: lines.get(11).map(|s| s.trim().to_string()).filter(|s| !s.is_empty()),
                });
            }
        }
        None
    }

    /// bo's own platform, assuming CPython 3.11.
    pub fn native() -> TargetEnv {
        let (sys_platform, system) = match std::env::consts::OS {
            "linux" => ("linux", "Linux"),
            "macos" => ("darwin", "Darwin"),
            "windows" => ("win32", "Windows"),
            other => (other, other),
        };
        TargetEnv {
            python_version: (3, 11, 0),
            implementation: "CPython".into(),
            sys_platform: sys_platform.into(),
            os_name: if cfg!(windows) { "nt" } else { "posix" }.into(),
            platform_system: system.into(),
            platform_machine: std::env::consts::ARCH.into(),
            platform_release: String::new(),
            platform_version: String::new(),
            pointer_bits: usize::BITS,
            little_endian: cfg!(target_endian = "little"),
            glibc: None,
            executable: None,
        }
    }

    pub fn marker_environment(&self) -> Option<MarkerEnvironment> {
        let (major, minor, patch) = self.python_version;
        let full = format!("{major}.{minor}.{patch}");
        let short = format!("{major}.{minor}");
        let implementation_name = self.implementation.to_lowercase();
        MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
            implementation_name: &implementation_name,
            implementation_version: &full,
            os_name: &self.os_name,
            platform_machine: &self.platform_machine,
            platform_python_implementation: &self.implementation,
            platform_release: &self.platform_release,
            platform_system: &self.platform_system,
            platform_version: &self.platform_version,
            python_full_version: &full,
            python_version: &short,
            sys_platform: &self.sys_platform,
        })
        .ok()
    }
}
