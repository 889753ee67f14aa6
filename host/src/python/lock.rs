//! `bo.lock`: every distribution each part resolved to, with its file, sha256 and
//! source, so a build can be repeated exactly. `bo build --locked` fails if the lock
//! would change; `bo build --frozen` installs from it without resolving. `[versions]`
//! keeps working beside it (pins shape what gets locked).

use std::collections::BTreeMap;
use std::path::Path;

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};

/// A locked distribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedDist {
    pub name: String,
    pub version: String,
    pub filename: String,
    pub sha256: String,
    pub source: String,
}

/// A part's locked working set and the requirements it was resolved from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LockedPart {
    pub requirements: Vec<String>,
    pub distributions: Vec<LockedDist>,
}

impl LockedPart {
    /// Same requirements and the same files (where they were found may differ).
    pub fn same_files(&self, other: &LockedPart) -> bool {
        let key = |d: &LockedDist| (d.name.clone(), d.version.clone(), d.filename.clone(), d.sha256.clone());
        self.requirements == other.requirements
            && self.distributions.iter().map(key).collect::<Vec<_>>() == other.distributions.iter().map(key).collect::<Vec<_>>()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Lock {
    pub parts: BTreeMap<String, LockedPart>,
    /// OCI recipe references and the manifest digest each resolved to.
    pub recipes: BTreeMap<String, String>,
}

impl Lock {
    pub fn read(path: &Path) -> Result<Lock, String> {
        // The lock comes with the checkout: a link could make bo read (and echo)
        // any file of yours.
        if path.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(format!(
                "{}: it is a symbolic link; bo reads its lock file only as a plain file",
                path.display()
            ));
        }
        let Ok(text) = std::fs::read_to_string(path) else {
            return Ok(Lock::default());
        };
        // Where, not what: the text of a file that is not a lock is not shown.
        let doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].lines().count().max(1))
                .unwrap_or(1);
            format!("{}: not a valid lock file (TOML error at line {line})", path.display())
        })?;
        let mut lock = Lock::default();
        let s = |t: &Table, k: &str| t.get(k).and_then(Item::as_str).unwrap_or("").to_string();
        for recipe in doc.get("recipe").and_then(Item::as_array_of_tables).into_iter().flatten() {
            lock.recipes.insert(s(recipe, "reference"), s(recipe, "digest"));
        }
        let Some(parts) = doc.get("part").and_then(Item::as_array_of_tables) else {
            return Ok(lock);
        };
        for part in parts {
            let requirements = part
                .get("requirements")
                .and_then(Item::as_array)
                .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
                .unwrap_or_default();
            let distributions: Vec<LockedDist> = part
                .get("distribution")
                .and_then(Item::as_array_of_tables)
                .map(|ds| {
                    ds.iter()
                        .map(|d| LockedDist {
                            name: s(d, "name"),
                            version: s(d, "version"),
                            filename: s(d, "file"),
                            sha256: s(d, "sha256"),
                            source: s(d, "source"),
                        })
                        .collect()
                })
                .unwrap_or_default();
            // The lock comes with the checkout: its file names become paths.
            if let Some(bad) = distributions
                .iter()
                .find(|d: &&LockedDist| !crate::trust::grants::is_file_name(&d.filename) || d.filename.starts_with('.'))
            {
                return Err(format!("{}: invalid distribution file name {:?}", path.display(), bad.filename));
            }
            lock.parts.insert(
                s(part, "name"),
                LockedPart {
                    requirements,
                    distributions,
                },
            );
        }
        Ok(lock)
    }

    pub fn render(&self) -> String {
        let mut doc = DocumentMut::new();
        doc["version"] = value(1);
        let mut parts = ArrayOfTables::new();
        for (name, part) in &self.parts {
            let mut table = Table::new();
            table["name"] = value(name.as_str());
            let mut requirements = toml_edit::Array::new();
            for r in &part.requirements {
                requirements.push(r.as_str());
            }
            table["requirements"] = value(requirements);
            let mut dists = ArrayOfTables::new();
            for d in &part.distributions {
                let mut t = Table::new();
                t["name"] = value(d.name.as_str());
                t["version"] = value(d.version.as_str());
                t["file"] = value(d.filename.as_str());
                t["sha256"] = value(d.sha256.as_str());
                t["source"] = value(d.source.as_str());
                dists.push(t);
            }
            table.insert("distribution", Item::ArrayOfTables(dists));
            parts.push(table);
        }
        if !self.recipes.is_empty() {
            let mut recipes = ArrayOfTables::new();
            for (reference, digest) in &self.recipes {
                let mut t = Table::new();
                t["reference"] = value(reference.as_str());
                t["digest"] = value(digest.as_str());
                recipes.push(t);
            }
            doc.insert("recipe", Item::ArrayOfTables(recipes));
        }
        doc.insert("part", Item::ArrayOfTables(parts));
        format!("# Written by bo: the distributions each part resolved to. Do not edit.\n{doc}")
    }

    pub fn write(&self, path: &Path) -> Result<(), String> {
        crate::fsutil::write_atomically(path, self.render().as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut lock = Lock::default();
        lock.parts.insert(
            "app".into(),
            LockedPart {
                requirements: vec!["six".into()],
                distributions: vec![LockedDist {
                    name: "six".into(),
                    version: "1.17.0".into(),
                    filename: "six-1.17.0-py2.py3-none-any.whl".into(),
                    sha256: "ab".into(),
                    source: "http://127.0.0.1/simple/six/".into(),
                }],
            },
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bo.lock");
        lock.write(&path).unwrap();
        assert_eq!(Lock::read(&path).unwrap(), lock);
    }
}
