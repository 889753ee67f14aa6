//! Core metadata (`METADATA`, PEP 566/643): name, version, `Requires-Dist`,
//! `Requires-Python`, `Provides-Extra`. Read from a PEP 658 `.metadata` file or
//! from the wheel itself.

use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::Requirement;

#[derive(Debug, Clone)]
pub struct Metadata {
    pub name: String,
    pub version: Version,
    pub requires_dist: Vec<Requirement>,
    pub requires_python: Option<VersionSpecifiers>,
    pub provides_extra: Vec<String>,
}

/// Parses the RFC 822 style header block; the body (description) is ignored.
pub fn parse(text: &str) -> Result<Metadata, String> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let get = |k: &str| headers.iter().find(|(h, _)| h == k).map(|(_, v)| v.clone());
    let name = get("name").ok_or("METADATA has no Name")?;
    let version = get("version").ok_or("METADATA has no Version")?;
    let version = Version::from_str(&version).map_err(|e| format!("bad Version {version:?}: {e}"))?;
    let mut requires_dist = Vec::new();
    for (_, value) in headers.iter().filter(|(h, _)| h == "requires-dist") {
        let req = Requirement::from_str(value).map_err(|e| format!("bad Requires-Dist {value:?}: {e}"))?;
        requires_dist.push(req);
    }
    let requires_python = match get("requires-python") {
        Some(spec) => Some(VersionSpecifiers::from_str(&spec).map_err(|e| format!("bad Requires-Python {spec:?}: {e}"))?),
        None => None,
    };
    let provides_extra = headers
        .iter()
        .filter(|(h, _)| h == "provides-extra")
        .map(|(_, v)| v.clone())
        .collect();
    Ok(Metadata {
        name,
        version,
        requires_dist,
        requires_python,
        provides_extra,
    })
}

/// PEP 503 normalisation: `Foo_bar.baz` → `foo-bar-baz`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut last_sep = false;
    for c in name.chars() {
        if c == '-' || c == '_' || c == '.' {
            if !last_sep {
                out.push('-');
            }
            last_sep = true;
        } else {
            out.push(c.to_ascii_lowercase());
            last_sep = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_headers() {
        let m = parse("Metadata-Version: 2.1\nName: Foo_Bar\nVersion: 1.0\nRequires-Dist: six>=1.0\nRequires-Dist: idna; extra == \"x\"\nProvides-Extra: x\n\nbody: no\n").unwrap();
        assert_eq!(m.name, "Foo_Bar");
        assert_eq!(m.requires_dist.len(), 2);
        assert_eq!(normalize(&m.name), "foo-bar");
    }
}
