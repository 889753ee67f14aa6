//! Which directories a recipe may be given to write. Inside the buildout a recipe
//! gets its own `parts/<part>` and the outputs it declares (`bin`, a template's
//! output directory, a mkdir recipe's paths), but never a directory that holds bo's
//! state or its own things (the buildout directory itself, the parts directory,
//! another part's directory, the eggs and develop-eggs directories, the download
//! and extends caches), a hidden directory (`.git/hooks` is code), or bo's cache
//! (precompiled code in it is executed). The same holds outside the buildout for
//! bo's own places, whatever the user granted.

use std::path::Path;

use super::grants::Layout;

/// Why `dir` (absolute, normalised) may not be a writable directory of `part`, if
/// it may not.
pub fn refusal(layout: &Layout, part: &str, dir: &Path) -> Option<String> {
    let root = layout.directory.as_path();
    let overlaps = |a: &Path, b: &Path| a.starts_with(b) || b.starts_with(a);
    if root.starts_with(dir) {
        return Some("it would hold the buildout directory itself, where bo keeps its state".into());
    }
    if layout.parts_directory.starts_with(dir) {
        return Some("it would hold every part's directory".into());
    }
    if dir.starts_with(&layout.parts_directory) && !dir.starts_with(layout.parts_directory.join(part)) {
        return Some("it lies in another part's directory".into());
    }
    if dir.starts_with(root)
        && let Some(hidden) = super::hidden_component(root, dir)
    {
        return Some(format!(
            "it lies in the hidden directory {hidden} (VCS metadata and tools' settings)"
        ));
    }
    if let Some((what, _)) = layout.reserved.iter().find(|(_, r)| overlaps(dir, r)) {
        return Some(format!("it overlaps bo's {what}"));
    }
    let cache = super::bo_cache_root();
    if overlaps(&super::canonical(dir), &cache) || overlaps(dir, &super::default_cache_dir()) {
        return Some(format!("it overlaps bo's cache ({})", cache.display()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn bo_places_are_refused() {
        let layout = Layout {
            directory: "/b".into(),
            parts_directory: "/b/parts".into(),
            bin_directory: "/b/bin".into(),
            reserved: vec![("eggs directory".into(), PathBuf::from("/b/eggs"))],
        };
        let refused = |d: &str| refusal(&layout, "web", Path::new(d)).is_some();
        assert!(!refused("/b/parts/web"));
        assert!(!refused("/b/parts/web/x"));
        assert!(!refused("/b/bin"));
        assert!(!refused("/b/etc"));
        assert!(refused("/b"));
        assert!(refused("/"));
        assert!(refused("/b/parts"));
        assert!(refused("/b/parts/db"));
        assert!(refused("/b/.git/hooks"));
        assert!(refused("/b/src/.hg"));
        assert!(refused("/b/eggs"));
        assert!(refused("/b/eggs/x"));
    }
}
