//! The user's grants file: where it is, reading it (global grants and grants per
//! buildout directory), and writing it (`bo grant`: grants bound to the recipe
//! each part has now, kept for this buildout, `[buildout."DIR"]`, or for every
//! buildout, `grants` at the top). It is the user's own file, read directly,
//! never merged into a build's configuration (which may be untrusted).

use std::path::{Path, PathBuf};

use super::grants::{Grant, UserGrants};

/// The user's grants file: `$BO_GRANTS_FILE`, else `$XDG_CONFIG_HOME/bo/grants.toml`,
/// else `~/.config/bo/grants.toml`. It is the user's own file, read directly (never
/// merged into a build's configuration, which may be untrusted).
pub fn user_grants_file() -> PathBuf {
    if let Some(file) = std::env::var_os("BO_GRANTS_FILE") {
        return PathBuf::from(file);
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default().join(".config"));
    config.join("bo").join("grants.toml")
}

impl UserGrants {
    /// Adds the grants `file` gives the buildout in `directory`:
    ///
    /// ```toml
    /// # for every buildout
    /// grants = ["*:host=files.pythonhosted.org"]
    ///
    /// # only for the buildout in this directory
    /// [buildout."/srv/shop"]
    /// grants = ["cmmi:program=make", "cmmi:program=sh"]
    /// ```
    ///
    /// A missing file grants nothing; a malformed one is an error naming it.
    pub fn add_from_file(&mut self, file: &Path, directory: &Path) -> Result<(), String> {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(format!("cannot read the grants file {}: {e}", file.display())),
        };
        let bad = |message: String| format!("grants file {}: {message}", file.display());
        let doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| bad(e.to_string()))?;
        let list = |item: &toml_edit::Item, context: &str| -> Result<Vec<Grant>, String> {
            let array = item
                .as_array()
                .ok_or_else(|| bad(format!("{context}grants must be a list of \"PART:KIND=VALUE\" strings")))?;
            array
                .iter()
                .map(|v| {
                    let text = v.as_str().ok_or_else(|| bad(format!("{context}grants must hold strings")))?;
                    text.parse::<Grant>().map_err(|e| bad(format!("{context}{e}")))
                })
                .collect()
        };
        for (key, item) in doc.iter() {
            match key {
                "grants" => self.grants.extend(list(item, "")?),
                "buildout" => {
                    let table = item
                        .as_table_like()
                        .ok_or_else(|| bad("[buildout] must hold tables named by directory".into()))?;
                    for (dir, entry) in table.iter() {
                        let grants = entry
                            .get("grants")
                            .ok_or_else(|| bad(format!("[buildout.\"{dir}\"] has no grants")))?;
                        let grants = list(grants, &format!("[buildout.\"{dir}\"] "))?;
                        let same = std::fs::canonicalize(dir)
                            .ok()
                            .zip(std::fs::canonicalize(directory).ok())
                            .is_some_and(|(a, b)| a == b)
                            || Path::new(dir) == directory;
                        if same {
                            self.grants.extend(grants);
                        }
                    }
                }
                other => return Err(bad(format!("unknown key {other:?} (expected grants or [buildout.\"DIR\"])"))),
            }
        }
        Ok(())
    }
}

/// Adds `grants` to the grants file `file`: for the buildout in `directory`, or
/// for every buildout when `directory` is `None`. Grants already there are not
/// repeated. The file is written atomically (never through a link).
pub fn add(file: &Path, directory: Option<&Path>, grants: &[Grant]) -> Result<(), String> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("cannot read the grants file {}: {e}", file.display())),
    };
    let bad = |m: String| format!("grants file {}: {m}", file.display());
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| bad(e.to_string()))?;
    let list = match directory {
        None => doc
            .entry("grants")
            .or_insert(toml_edit::value(toml_edit::Array::new()))
            .as_array_mut()
            .ok_or_else(|| bad("grants must be a list".into()))?,
        Some(directory) => {
            let key = directory.display().to_string();
            let buildout = doc
                .entry("buildout")
                .or_insert(toml_edit::Item::Table(toml_edit::Table::new()))
                .as_table_like_mut()
                .ok_or_else(|| bad("[buildout] must hold tables named by directory".into()))?;
            let table = buildout
                .entry(&key)
                .or_insert(toml_edit::Item::Table(toml_edit::Table::new()))
                .as_table_like_mut()
                .ok_or_else(|| bad(format!("[buildout.\"{key}\"] must be a table")))?;
            table
                .entry("grants")
                .or_insert(toml_edit::value(toml_edit::Array::new()))
                .as_array_mut()
                .ok_or_else(|| bad(format!("[buildout.\"{key}\"] grants must be a list")))?
        }
    };
    for grant in grants {
        let text = grant.to_string();
        if !list.iter().any(|v| v.as_str() == Some(text.as_str())) {
            list.push(text);
        }
    }
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    crate::fsutil::write_atomically(file, doc.to_string().as_bytes())
        .map_err(|e| format!("cannot write the grants file {}: {e}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::grants::UserGrants;

    #[test]
    fn written_grants_are_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bo/grants.toml");
        let here = dir.path().canonicalize().unwrap();
        let g = |s: &str| s.parse::<Grant>().unwrap();
        add(&file, Some(&here), &[g("cmmi@zc.recipe.cmmi:program=make")]).unwrap();
        add(
            &file,
            Some(&here),
            &[g("cmmi@zc.recipe.cmmi:program=make"), g("cmmi@zc.recipe.cmmi:program=sh")],
        )
        .unwrap();
        add(&file, None, &[g("*:host=pypi.org")]).unwrap();
        let mut read = UserGrants::default();
        read.add_from_file(&file, &here).unwrap();
        let mut got: Vec<String> = read.grants.iter().map(|g| g.to_string()).collect();
        got.sort();
        assert_eq!(
            got,
            [
                "*:host=pypi.org",
                "cmmi@zc.recipe.cmmi:program=make",
                "cmmi@zc.recipe.cmmi:program=sh"
            ]
        );
    }
}
