//! The layering of `host/src`, enforced: every module imports only modules of its
//! own layer or lower ones, and the module graph has no cycle. ARCHITECTURE.md
//! explains the layers.
//!
//!   cli → plan → runtime / python / oci → trust → config → fsutil / net / archive / progress

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each top-level module of `host/src` and its layer (higher may import lower).
const LAYERS: &[(&str, u8)] = &[
    ("fsutil", 0),
    ("net", 0),
    ("archive", 0),
    ("progress", 0),
    ("config", 1),
    ("trust", 2),
    ("python", 3),
    ("oci", 3),
    ("runtime", 3),
    ("plan", 4),
    ("cli", 5),
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The modules a file refers to through `crate::` (paths and `use` groups), outside
/// comments.
fn referenced(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines().map(str::trim_start).filter(|l| !l.starts_with("//")) {
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                for item in group.split('}').next().unwrap_or("").split(',') {
                    let name: String = item.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                    out.insert(name);
                }
            } else {
                out.insert(rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect());
            }
        }
    }
    out.retain(|n| !n.is_empty());
    out
}

#[test]
fn modules_import_only_their_layer_and_below() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let layer: BTreeMap<&str, u8> = LAYERS.iter().copied().collect();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut violations = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let module = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(&own) = layer.get(module.as_str()) else {
            violations.push(format!(
                "{}: module {module} has no layer in tests/architecture.rs (and ARCHITECTURE.md)",
                relative.display()
            ));
            continue;
        };
        for target in referenced(&std::fs::read_to_string(file).unwrap()) {
            if target == module {
                continue;
            }
            match layer.get(target.as_str()) {
                Some(&theirs) if theirs > own => violations.push(format!(
                    "{}: {module} (layer {own}) imports {target} (layer {theirs})",
                    relative.display()
                )),
                Some(_) => {
                    graph.entry(module.clone()).or_default().insert(target);
                }
                None => {}
            }
        }
    }
    // Modules of one layer may use each other, but never in a circle.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, &graph, &mut Vec::new(), &mut done) {
            violations.push(format!("import circle: {}", cycle.join(" -> ")));
            break;
        }
    }
    assert!(violations.is_empty(), "layering broken:\n{}", violations.join("\n"));
}
