//! Scripts in `bin/`, Buildout style: each names the exact distribution directories
//! it needs in `sys.path`, so two scripts in one buildout can use two versions of one
//! distribution. They import nothing from setuptools or pkg_resources. The text
//! follows zc.buildout's templates (`easy_install.py`), including `relative-paths`.

use std::path::{Path, PathBuf};

/// What to generate.
#[derive(Debug, Clone, Default)]
pub struct ScriptsRequest {
    /// The shebang's interpreter.
    pub executable: String,
    /// `sys.path` entries: distribution locations, then `extra-paths`.
    pub path: Vec<String>,
    /// (script name, module, attrs): `bin/<name>` runs `module.attrs(arguments)`.
    pub scripts: Vec<(String, String, String)>,
    /// `interpreter = py`: a Python interpreter script with the same path.
    pub interpreter: Option<String>,
    pub initialization: String,
    pub arguments: String,
    /// `relative-paths`: the buildout directory the paths are made relative to.
    pub relative_to: Option<PathBuf>,
    pub bin_directory: PathBuf,
}

/// Python's `repr` of a string.
pub fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::new();
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

const RELATIVE_PATHS_SETUP: &str =
    "\nimport os\n\njoin = os.path.join\nbase = os.path.dirname(os.path.abspath(os.path.realpath(__file__)))\n";

/// The `sys.path` list text and the relative-paths prelude for a script at `script`.
fn path_and_setup(script: &Path, path: &[String], relative_to: Option<&Path>) -> (String, String) {
    let Some(base) = relative_to else {
        let items: Vec<String> = path.iter().map(|p| py_repr(p)).collect();
        return (items.join(",\n  "), String::new());
    };
    let items: Vec<String> = path
        .iter()
        .map(|p| {
            let p = Path::new(p);
            if p == base {
                "base".to_string()
            } else if let Ok(rest) = p.strip_prefix(base) {
                format!("join(base, {})", py_repr(&rest.to_string_lossy()))
            } else {
                py_repr(&p.to_string_lossy())
            }
        })
        .collect();
    let depth = script
        .parent()
        .and_then(|d| d.strip_prefix(base).ok())
        .map(|r| r.components().count())
        .unwrap_or(0);
    let mut setup = RELATIVE_PATHS_SETUP.to_string();
    for _ in 0..depth {
        setup.push_str("base = os.path.dirname(base)\n");
    }
    (items.join(",\n  "), setup)
}

fn initialization_block(initialization: &str) -> String {
    let text: Vec<&str> = initialization.lines().map(str::trim_start).collect();
    let text = text.join("\n");
    if text.trim().is_empty() {
        String::new()
    } else {
        format!("\n{text}\n")
    }
}

pub fn console_script(request: &ScriptsRequest, dest: &Path, module: &str, attrs: &str) -> String {
    let (path, setup) = path_and_setup(dest, &request.path, request.relative_to.as_deref());
    format!(
        "#!{python}\n{setup}\nimport sys\nsys.path[0:0] = [\n  {path},\n  ]\n{init}\nimport {module}\n\nif __name__ == '__main__':\n    sys.exit({module}.{attrs}({arguments}))\n",
        python = request.executable,
        init = initialization_block(&request.initialization),
        arguments = request.arguments,
    )
}

pub fn interpreter_script(request: &ScriptsRequest, dest: &Path) -> String {
    let (path, setup) = path_and_setup(dest, &request.path, request.relative_to.as_deref());
    let path = if path.is_empty() { path } else { format!("{path},") };
    format!(
        "#!{python}\n{setup}\nimport sys\n\nsys.path[0:0] = [\n  {path}\n  ]\n{init}\n{INTERPRETER_BODY}",
        python = request.executable,
        init = initialization_block(&request.initialization),
    )
}

const INTERPRETER_BODY: &str = r#"
_interactive = True
if len(sys.argv) > 1:
    # The Python interpreter wrapper allows only some of the options that a
    # "regular" Python interpreter accepts.
    _options, _args = __import__("getopt").getopt(sys.argv[1:], 'Iic:m:')
    _interactive = False
    for (_opt, _val) in _options:
        if _opt == '-i':
            _interactive = True
        elif _opt == '-c':
            exec(_val)
        elif _opt == '-m':
            sys.argv[1:] = _args
            _args = []
            __import__("runpy").run_module(
                 _val, {}, "__main__", alter_sys=True)
        elif _opt == '-I':
            pass

    if _args:
        sys.argv[:] = _args
        __file__ = _args[0]
        del _options, _args
        with open(__file__) as __file__f:
            exec(compile(__file__f.read(), __file__, "exec"))

if _interactive:
    del _interactive
    __import__("code").interact(banner="", local=globals())
"#;

/// Writes the scripts (only where the text changed) and returns their paths.
pub fn write(request: &ScriptsRequest) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(&request.bin_directory).map_err(|e| format!("cannot create {}: {e}", request.bin_directory.display()))?;
    let mut written = Vec::new();
    for (dest, text) in render(request) {
        // Never write through a symlink planted where a script goes.
        if dest.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
            std::fs::remove_file(&dest).map_err(|e| format!("cannot replace {}: {e}", dest.display()))?;
        }
        if std::fs::read_to_string(&dest).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&dest, &text).map_err(|e| format!("cannot write {}: {e}", dest.display()))?;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| format!("cannot chmod {}: {e}", dest.display()))?;
        }
        written.push(dest);
    }
    Ok(written)
}

/// Each script's path and text.
pub fn render(request: &ScriptsRequest) -> Vec<(PathBuf, String)> {
    let mut jobs: Vec<(PathBuf, String)> = request
        .scripts
        .iter()
        .map(|(name, module, attrs)| {
            let dest = request.bin_directory.join(name);
            let text = console_script(request, &dest, module, attrs);
            (dest, text)
        })
        .collect();
    if let Some(name) = &request.interpreter {
        let dest = request.bin_directory.join(name);
        let text = interpreter_script(request, &dest);
        jobs.push((dest, text));
    }
    jobs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_text_matches_buildout() {
        let request = ScriptsRequest {
            executable: "/usr/bin/python3".into(),
            path: vec!["/b/eggs/six-1.17.0".into(), "/b/src".into()],
            arguments: String::new(),
            ..Default::default()
        };
        let text = console_script(&request, Path::new("/b/bin/x"), "pkg.cli", "main");
        assert_eq!(
            text,
            "#!/usr/bin/python3\n\nimport sys\nsys.path[0:0] = [\n  '/b/eggs/six-1.17.0',\n  '/b/src',\n  ]\n\nimport pkg.cli\n\nif __name__ == '__main__':\n    sys.exit(pkg.cli.main())\n"
        );
    }

    #[test]
    fn relative_paths() {
        let request = ScriptsRequest {
            path: vec!["/b/eggs/six".into(), "/other/x".into()],
            relative_to: Some("/b".into()),
            ..Default::default()
        };
        let (path, setup) = path_and_setup(Path::new("/b/bin/x"), &request.path, request.relative_to.as_deref());
        assert_eq!(path, "join(base, 'eggs/six'),\n  '/other/x'");
        assert!(setup.ends_with("base = os.path.dirname(base)\n"));
    }
}
