//! `zc.recipe.cmmi`: configure, make, make install. Downloads `url` through bo's
//! cache (checked against `md5sum`), unpacks it (the host's `extract`), applies
//! `patch`/`patches` with `patch_options`, runs `autogen` if asked, then
//! `configure-command` (default `./configure`) with `--prefix=<location>` and
//! `extra_options` (or `configure-options` instead of both), `make <make-options>`
//! and `make <make-options> <make-targets>` (default `install`), with
//! `environment` (lines of `NAME=value`) added to the programs' environment.
//!
//! `shared = DIR` (or `true`, meaning `${buildout:download-cache}/cmmi/build`) keeps
//! the build in DIR under a hash of its settings and reuses it when present; such a
//! build is not removed when the part is. The build happens in
//! `<location>/__compile__`, removed afterwards unless `keep-compile-dir` is true.
//!
//! Programs run outside the sandbox, so the part needs grants for them:
//! `--grant PART:program=sh --grant PART:program=make` (and `patch` for patches),
//! plus `--grant PART:host=HOST` to download.

use bo_recipe_sdk::{Manifest, Options, Recipe, Run, RunOutput, config_get, download, export_recipe, extract, log};
use sha2::{Digest, Sha256};

struct Cmmi;

fn buildout(option: &str) -> Option<String> {
    config_get("buildout", option).filter(|v| !v.trim().is_empty())
}

fn is_true(value: &str) -> bool {
    matches!(value.trim().to_ascii_lowercase().as_str(), "true" | "yes" | "on" | "1")
}

/// `NAME=value` lines (or words) of the `environment` option.
fn environment(options: &Options) -> Result<Vec<(String, String)>, String> {
    let mut env = Vec::new();
    for item in options.get("environment").unwrap_or("").split('\n').flat_map(|l| l.split_whitespace()) {
        let (name, value) = item
            .split_once('=')
            .ok_or_else(|| format!("environment: expected NAME=value, got {item:?}"))?;
        env.push((name.to_string(), value.to_string()));
    }
    Ok(env)
}

/// Hash of the settings that shape a build, naming its shared directory.
fn state_hash(options: &Options) -> String {
    let mut hasher = Sha256::new();
    for key in [
        "url", "extra_options", "configure-options", "configure-command", "autogen", "patch", "patches", "patch_options",
        "environment", "make-options", "make-targets",
    ] {
        hasher.update(key.as_bytes());
        hasher.update([0]);
        hasher.update(options.get(key).unwrap_or("").as_bytes());
        hasher.update([0]);
    }
    hex::encode(hasher.finalize())[..40].to_string()
}

struct Builder<'a> {
    directory: String,
    env: &'a [(String, String)],
}

impl Builder<'_> {
    fn run(&self, program: &str, args: &[String]) -> Result<RunOutput, String> {
        log::info(&format!("{program} {}", args.join(" ")));
        let mut run = Run::new(program).args(args.iter().cloned()).cwd(&self.directory);
        for (k, v) in self.env {
            run = run.env(k, v);
        }
        let output = run.output()?;
        if output.status != 0 {
            let tail: Vec<&str> = output.stdout.lines().chain(output.stderr.lines()).collect();
            let tail = tail[tail.len().saturating_sub(20)..].join("\n");
            return Err(format!("{program} {} failed with status {}:\n{tail}", args.join(" "), output.status));
        }
        Ok(output)
    }

    fn shell(&self, command: &str) -> Result<RunOutput, String> {
        self.run("sh", &["-c".to_string(), command.to_string()])
    }
}

fn exists(path: &str) -> bool {
    std::fs::metadata(path).is_ok()
}

fn build(part: &str, options: &Options, location: &str) -> Result<(), String> {
    let url = options.require("url")?;
    let archive = download(&url, None, options.get("md5sum").filter(|m| !m.trim().is_empty()))?;
    let compile_dir = format!("{location}/__compile__");
    let _ = std::fs::remove_dir_all(&compile_dir);
    log::info("Unpacking and configuring");
    extract(&archive, &compile_dir, false, true)?;
    let contains = options.get_or("source-directory-contains", "configure").to_string();
    let autogen = options.get_or("autogen", "").trim().to_string();
    // Like the original: step into the single top-level directory unless the
    // configure script (or autogen) is already here.
    let mut source = compile_dir.clone();
    if !exists(&format!("{source}/{contains}")) && (autogen.is_empty() || !exists(&format!("{source}/{autogen}"))) {
        let entries: Vec<_> = std::fs::read_dir(&source).map_err(|e| e.to_string())?.flatten().collect();
        if let [only] = entries.as_slice() {
            source = format!("{source}/{}", only.file_name().to_string_lossy());
        }
    }
    let env = environment(options)?;
    for (k, v) in &env {
        log::info(&format!("Updating environment: {k}={v}"));
    }
    let builder = Builder { directory: source.clone(), env: &env };
    let patch_options: Vec<String> = options.get_or("patch_options", "-p0").split_whitespace().map(String::from).collect();
    let mut patches = options.get_lines("patches");
    patches.extend(options.get_lines("patch"));
    for patch in patches {
        let file = if patch.contains("://") {
            download(&patch, None, None)?
        } else {
            let base = buildout("directory").unwrap_or_default();
            if patch.starts_with('/') { patch.clone() } else { format!("{base}/{patch}") }
        };
        let mut args = patch_options.clone();
        args.extend(["-i".to_string(), file]);
        builder.run("patch", &args)?;
    }
    if !autogen.is_empty() {
        log::info("auto generating configure files");
        builder.shell(&format!("./{autogen}"))?;
    }
    if !exists(&format!("{source}/{contains}")) {
        return Err(format!("part {part}: couldn't find {contains} in the unpacked sources of {url}"));
    }
    let configure = options.get_or("configure-command", "./configure").trim().to_string();
    let configure_options = match options.get("configure-options") {
        Some(given) => given.split_whitespace().collect::<Vec<_>>().join(" "),
        None => {
            let extra = options.get_or("extra_options", "").split_whitespace().collect::<Vec<_>>().join(" ");
            format!("--prefix={location} {extra}").trim().to_string()
        }
    };
    builder.shell(&format!("{configure} {configure_options}"))?;
    let make_options: Vec<String> = options.get_or("make-options", "").split_whitespace().map(String::from).collect();
    builder.run("make", &make_options)?;
    let mut install = make_options.clone();
    install.extend(options.get_or("make-targets", "install").split_whitespace().map(String::from));
    builder.run("make", &install)?;
    if !options.get_bool("keep-compile-dir", false)? {
        std::fs::remove_dir_all(&compile_dir).map_err(|e| format!("cannot remove {compile_dir}: {e}"))?;
    }
    Ok(())
}

impl Recipe for Cmmi {
    const HAS_UPDATE: bool = true;

    fn describe() -> Manifest {
        Manifest::new("zc.recipe.cmmi", "Downloads, configures and builds a source archive: configure, make, make install")
            .writes(&["option-dir:location", "option-dir:shared"])
            .programs(&["sh", "make", "patch"])
            .hosts(&["*"])
    }

    fn init(part: &str, options: &mut Options) -> Result<(), String> {
        // The original's constructor reads its options whether or not this build
        // uses them (so Buildout never calls them unused).
        for name in [
            "url", "md5sum", "autogen", "configure-command", "configure-options", "environment", "extra_options",
            "keep-compile-dir", "make-options", "make-targets", "patch", "patch_options", "patches", "shared",
            "source-directory-contains",
        ] {
            let _ = options.get(name);
        }
        let parts = buildout("parts-directory").unwrap_or_default();
        let mut location = options.get("location").map(String::from).unwrap_or_else(|| format!("{parts}/{part}"));
        if let Some(shared) = options.get("shared").map(str::trim).filter(|s| !s.is_empty() && !is_false(s)) {
            let root = if is_true(shared) {
                let cache = buildout("download-cache").ok_or(
                    "Set the 'shared' option of zc.recipe.cmmi to an existing directory, or set ${buildout:download-cache}",
                )?;
                format!("{cache}/cmmi/build")
            } else {
                shared.to_string()
            };
            options.set("shared", root.clone());
            location = format!("{root}/{}", state_hash(options));
        }
        options.set("location", location);
        Ok(())
    }

    fn install(part: &str, options: &Options) -> Result<Vec<String>, String> {
        let location = options.require("location")?;
        let shared = options.get("shared").is_some_and(|s| !s.trim().is_empty() && !is_false(s));
        if shared && exists(&format!("{location}/.bo-cmmi-done")) {
            log::info("using existing shared build");
            return Ok(Vec::new());
        }
        std::fs::create_dir_all(&location).map_err(|e| format!("cannot create {location}: {e}"))?;
        if let Err(e) = build(part, options, &location) {
            if !options.get_bool("keep-compile-dir", false).unwrap_or(false) {
                let _ = std::fs::remove_dir_all(&location);
            } else {
                log::error(&format!("cmmi failed: {location}/__compile__"));
            }
            return Err(e);
        }
        if shared {
            std::fs::write(format!("{location}/.bo-cmmi-done"), b"").map_err(|e| e.to_string())?;
            // A shared build outlives the part, as in the original.
            return Ok(Vec::new());
        }
        Ok(vec![location])
    }

    fn update(_part: &str, _options: &Options) -> Result<Vec<String>, String> {
        Ok(Vec::new())
    }
}

fn is_false(value: &str) -> bool {
    matches!(value.trim().to_ascii_lowercase().as_str(), "false" | "no" | "off" | "0")
}

export_recipe!(Cmmi);
