//! Source distributions made into pure-Python wheels without running any of their
//! code, for the classic-recipe runner (CPython on WASI: no compiler, and no
//! `setup.py` is ever run on the host). A setuptools sdist carries its
//! `NAME.egg-info/` (PKG-INFO, `requires.txt` with `[extra]` and `[:marker]`
//! sections, `entry_points.txt`, `top_level.txt`): bo reads those, takes the Python
//! packages `top_level.txt` names from the directory beside the egg-info (the
//! root, or `src/`), leaves out C sources (a project with optional speedups, such
//! as zope.interface or MarkupSafe, then runs its pure-Python fallback), and writes
//! a `py3-none-any` wheel the normal install path unpacks.
//!
//! Everything in the archive is untrusted: entries are read with byte and count
//! budgets, paths are kept only when they are plain relative paths, and the
//! metadata's Name and Version must be the ones the index offered.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::metadata::normalize;

/// Bounds on what one sdist may make bo read (an sdist of a recipe is kilobytes).
const MAX_TOTAL_BYTES: u64 = 256 << 20;
const MAX_ENTRIES: usize = 50_000;

/// Files that are C (or Cython) sources of optional extensions: not Python code.
const NATIVE_SOURCES: &[&str] = &[".c", ".h", ".cc", ".cpp", ".pyx", ".pxd", ".so", ".pyd", ".dll"];

/// One file of the sdist, by its path below the archive's top-level directory.
struct Entry {
    path: String,
    bytes: Vec<u8>,
}

/// Makes `sdist` (of `project` `version`, as the index named it) into a wheel in
/// `out_dir`, or says why it cannot. The result is cached by the caller's
/// `out_dir` (keyed by the sdist's content).
pub fn wheel_from_sdist(sdist: &Path, project: &str, version: &str, out_dir: &Path) -> Result<PathBuf, String> {
    let label = sdist.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let entries = read_entries(sdist).map_err(|e| format!("{label}: {e}"))?;
    // The egg-info setuptools put in the sdist: the shallowest `*.egg-info/PKG-INFO`.
    let egg_info = entries
        .iter()
        .filter_map(|e| e.path.strip_suffix("/PKG-INFO").filter(|dir| dir.ends_with(".egg-info")))
        .min_by_key(|dir| dir.matches('/').count())
        .map(str::to_string)
        .ok_or_else(|| {
            format!(
                "{label}: the source distribution has no *.egg-info directory, so bo cannot tell its packages and dependencies without running its build code (which the classic-recipe runner never does); ask for a wheel of {project} {version}"
            )
        })?;
    let file = |name: &str| -> Option<String> {
        let path = format!("{egg_info}/{name}");
        entries
            .iter()
            .find(|e| e.path == path)
            .map(|e| String::from_utf8_lossy(&e.bytes).into_owned())
    };
    let pkg_info = file("PKG-INFO").unwrap_or_default();
    let metadata = super::metadata::parse(&pkg_info).map_err(|e| format!("{label}: PKG-INFO: {e}"))?;
    if normalize(&metadata.name) != normalize(project) || metadata.version.to_string() != version {
        return Err(format!(
            "{label}: its metadata names {} {}, but the index offered it as {project} {version}",
            metadata.name, metadata.version
        ));
    }
    let root = egg_info.rsplit_once('/').map(|(r, _)| format!("{r}/")).unwrap_or_default();
    let top_level: Vec<String> = match file("top_level.txt") {
        Some(text) => text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect(),
        None => top_level_from_sources(&file("SOURCES.txt").unwrap_or_default(), &root),
    };
    let mut payload: Vec<(&str, &[u8])> = Vec::new();
    let mut left_out_native = false;
    for entry in &entries {
        let Some(inside) = entry.path.strip_prefix(&root) else { continue };
        let first = inside.split('/').next().unwrap_or("");
        let module = first.strip_suffix(".py").unwrap_or(first);
        let wanted = top_level.iter().any(|t| {
            let t = t.split('/').next().unwrap_or(t);
            t == module && (inside.contains('/') || first.ends_with(".py"))
        });
        if !wanted || inside.split('/').any(|c| c == "__pycache__") {
            continue;
        }
        if NATIVE_SOURCES.iter().any(|s| inside.ends_with(s)) {
            left_out_native = true;
            continue;
        }
        payload.push((inside, &entry.bytes));
    }
    if payload.is_empty() {
        return Err(format!("{label}: no Python package of {project} found beside {egg_info}"));
    }
    static SAID: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut said = SAID.lock().unwrap();
    if left_out_native && !said.contains(&label) {
        said.push(label.clone());
        crate::progress::println(&format!(
            "{project} {version} has C sources; bo uses its Python code only (the classic-recipe runner is pure Python)"
        ));
    }
    let dist_name = normalize(project).replace('-', "_");
    let dist_info = format!("{dist_name}-{version}.dist-info");
    let mut meta_files: Vec<(String, Vec<u8>)> = vec![
        (
            format!("{dist_info}/METADATA"),
            core_metadata(&pkg_info, file("requires.txt").as_deref()).into_bytes(),
        ),
        (
            format!("{dist_info}/WHEEL"),
            b"Wheel-Version: 1.0\nGenerator: bo (from the sdist's egg-info)\nRoot-Is-Purelib: true\nTag: py3-none-any\n".to_vec(),
        ),
    ];
    for name in ["entry_points.txt", "top_level.txt", "namespace_packages.txt"] {
        if let Some(text) = file(name) {
            meta_files.push((format!("{dist_info}/{name}"), text.into_bytes()));
        }
    }
    std::fs::create_dir_all(out_dir).map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    let wheel = out_dir.join(format!("{dist_name}-{version}-py3-none-any.whl"));
    if wheel.is_file() {
        return Ok(wheel);
    }
    let tmp = crate::fsutil::temp_path_beside(&wheel);
    write_wheel(&tmp, &payload, &meta_files, &dist_info).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &wheel).map_err(|e| format!("cannot write {}: {e}", wheel.display()))?;
    Ok(wheel)
}

/// Packages named by `SOURCES.txt` below `root` (sdists without `top_level.txt`).
fn top_level_from_sources(sources: &str, root: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for line in sources.lines().map(str::trim) {
        let Some(inside) = line.strip_prefix(root) else { continue };
        if !inside.ends_with(".py") || inside.starts_with("setup.py") || inside.contains(".egg-info") {
            continue;
        }
        let first = inside.split('/').next().unwrap_or("");
        let name = first.strip_suffix(".py").unwrap_or(first).to_string();
        if !names.contains(&name) && !["setup", "tests", "docs"].contains(&name.as_str()) {
            names.push(name);
        }
    }
    names
}

/// PKG-INFO's headers, with `requires.txt` as `Requires-Dist` and `Provides-Extra`
/// (the egg-info keeps dependencies there, not in PKG-INFO).
pub(crate) fn core_metadata(pkg_info: &str, requires: Option<&str>) -> String {
    let mut out = String::new();
    let has_requires_dist = pkg_info.lines().any(|l| l.to_ascii_lowercase().starts_with("requires-dist:"));
    for line in pkg_info.lines() {
        if line.is_empty() {
            break;
        }
        out.push_str(line);
        out.push('\n');
    }
    if let Some(requires) = requires.filter(|_| !has_requires_dist) {
        let mut extras: Vec<String> = Vec::new();
        let (mut extra, mut marker) = (String::new(), String::new());
        for line in requires.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                let (e, m) = section.split_once(':').unwrap_or((section, ""));
                extra = e.trim().to_string();
                marker = m.trim().to_string();
                if !extra.is_empty() && !extras.contains(&extra) {
                    extras.push(extra.clone());
                }
                continue;
            }
            let condition = match (extra.is_empty(), marker.is_empty()) {
                (true, true) => String::new(),
                (true, false) => format!("; {marker}"),
                (false, true) => format!("; extra == \"{extra}\""),
                (false, false) => format!("; ({marker}) and extra == \"{extra}\""),
            };
            out.push_str(&format!("Requires-Dist: {line}{condition}\n"));
        }
        for extra in extras {
            out.push_str(&format!("Provides-Extra: {extra}\n"));
        }
    }
    out
}

fn write_wheel(path: &Path, payload: &[(&str, &[u8])], meta: &[(String, Vec<u8>)], dist_info: &str) -> std::io::Result<()> {
    use sha2::Digest;
    let file = std::fs::File::create(path)?;
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut record = String::new();
    let mut add = |zip: &mut zip::ZipWriter<std::fs::File>, name: &str, bytes: &[u8]| -> std::io::Result<()> {
        zip.start_file(name, options).map_err(std::io::Error::other)?;
        zip.write_all(bytes)?;
        let digest = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sha2::Sha256::digest(bytes));
        record.push_str(&format!("{name},sha256={digest},{}\n", bytes.len()));
        Ok(())
    };
    for (name, bytes) in payload {
        add(&mut zip, name, bytes)?;
    }
    for (name, bytes) in meta {
        add(&mut zip, name, bytes)?;
    }
    record.push_str(&format!("{dist_info}/RECORD,,\n"));
    zip.start_file(format!("{dist_info}/RECORD"), options)
        .map_err(std::io::Error::other)?;
    zip.write_all(record.as_bytes())?;
    zip.finish().map_err(std::io::Error::other)?;
    Ok(())
}

/// The archive's regular files, by path below its single top-level directory;
/// anything that is not a plain relative path is skipped.
fn read_entries(sdist: &Path) -> Result<Vec<Entry>, String> {
    let name = sdist.to_string_lossy().to_ascii_lowercase();
    let file = std::fs::File::open(sdist).map_err(|e| e.to_string())?;
    let mut entries = Vec::new();
    let mut total = 0u64;
    let mut take = |path: &str, reader: &mut dyn Read, size: u64| -> Result<(), String> {
        if entries.len() >= MAX_ENTRIES {
            return Err(format!("more than {MAX_ENTRIES} entries"));
        }
        total += size;
        if total > MAX_TOTAL_BYTES {
            return Err(format!("more than {} MiB unpacked", MAX_TOTAL_BYTES >> 20));
        }
        let Some((_, inside)) = path.trim_start_matches("./").split_once('/') else {
            return Ok(());
        };
        if inside.is_empty() || inside.starts_with('/') || inside.split('/').any(|c| c == ".." || c == "." || c.is_empty()) {
            return Ok(());
        }
        let mut bytes = Vec::with_capacity(size.min(1 << 20) as usize);
        reader.take(size).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
        entries.push(Entry {
            path: inside.to_string(),
            bytes,
        });
        Ok(())
    };
    if name.ends_with(".zip") {
        let mut zip = zip::ZipArchive::new(file).map_err(|e| format!("not a zip archive: {e}"))?;
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).map_err(|e| e.to_string())?;
            if !entry.is_file() {
                continue;
            }
            let path = entry.name().map_err(|e| e.to_string())?.to_string();
            let size = entry.size();
            take(&path, &mut entry, size)?;
        }
    } else {
        let reader: Box<dyn Read> = if name.ends_with(".tar.bz2") {
            Box::new(bzip2::read::BzDecoder::new(file))
        } else if name.ends_with(".tar") {
            Box::new(file)
        } else {
            Box::new(flate2::read::GzDecoder::new(file))
        };
        let mut archive = tar::Archive::new(reader);
        for entry in archive.entries().map_err(|e| format!("not a tar archive: {e}"))? {
            let mut entry = entry.map_err(|e| format!("not a tar archive: {e}"))?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let size = entry.header().size().map_err(|e| e.to_string())?;
            take(&path, &mut entry, size)?;
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requires_txt_becomes_requires_dist() {
        let text = core_metadata(
            "Metadata-Version: 2.1\nName: x\nVersion: 1.0\n\nbody\n",
            Some(
                "zc.buildout\nsix>=1\n\n[test]\nzope.testing\n\n[:python_version < \"3\"]\nfutures\n\n[docs:sys_platform == \"linux\"]\nsphinx\n",
            ),
        );
        assert!(text.contains("Requires-Dist: zc.buildout\n"));
        assert!(text.contains("Requires-Dist: six>=1\n"));
        assert!(text.contains("Requires-Dist: zope.testing; extra == \"test\"\n"));
        assert!(text.contains("Requires-Dist: futures; python_version < \"3\"\n"));
        assert!(text.contains("Requires-Dist: sphinx; (sys_platform == \"linux\") and extra == \"docs\"\n"));
        assert!(text.contains("Provides-Extra: test\n"));
        assert!(!text.contains("body"));
        assert!(super::super::metadata::parse(&text).is_ok());
    }

    #[test]
    fn top_level_from_sources_skips_setup_and_tests() {
        let names = top_level_from_sources(
            "setup.py\nsrc/foo/__init__.py\nsrc/foo/a.py\nsrc/bar.py\nsrc/x.egg-info/PKG-INFO\n",
            "src/",
        );
        assert_eq!(names, vec!["foo", "bar"]);
    }
}
