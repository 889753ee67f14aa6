//! Lazy evaluation of sections: macro expansion (`<=`), `${section:option}`
//! substitution with `$$` escaping, and the order in which parts are found. A section
//! is evaluated on first use and cached, exactly as Buildout's `Options` does, so an
//! unused broken section is never an error while `[buildout]` always is evaluated.

use std::collections::HashMap;

use indexmap::IndexMap;

use super::error::{ConfigError, ConfigErrorKind};
use super::layers::{self, Annotated, Origin, Section};

pub type RawSection = IndexMap<String, String>;
pub type RawConfig = IndexMap<String, RawSection>;

/// Option name that carries `=> a b` part dependencies.
pub const PART_DEPENDENCIES: &str = "<part-dependencies>";

#[derive(Debug, Default, Clone)]
struct SectionState {
    /// Raw values after macro expansion.
    raw: RawSection,
    /// Values substituted when the section was initialised.
    cooked: HashMap<String, String>,
    /// Values read through `get` (fully substituted) or set by a recipe.
    data: IndexMap<String, String>,
}

impl SectionState {
    /// The values as they stand: raw, then substituted, then read or set.
    fn values(&self) -> IndexMap<String, String> {
        let mut values: IndexMap<String, String> = self.raw.clone();
        for (k, v) in &self.cooked {
            values.insert(k.clone(), v.clone());
        }
        for (k, v) in &self.data {
            values.insert(k.clone(), v.clone());
        }
        values
    }
}

/// Called when a section with a `recipe` is first evaluated, before it is appended to
/// the part list; the runtime constructs the recipe here (it may set options).
pub type RecipeHook<'h> = dyn FnMut(&mut Evaluator<'_>, &str) -> Result<(), ConfigError> + 'h;

pub struct Evaluator<'c> {
    raw: &'c RawConfig,
    sections: HashMap<String, SectionState>,
    doing: Vec<String>,
    /// Sections with a recipe, in the order they were first evaluated.
    pub parts: Vec<String>,
    /// Which sections each section's values referenced (`${}` and `=>`).
    pub references: HashMap<String, std::collections::BTreeSet<String>>,
    recipe_hook: Option<Box<RecipeHook<'c>>>,
    /// Sections changed since the last [`Evaluator::refresh_snapshot`].
    changed: std::collections::HashSet<String>,
    /// Options some value's `${section:option}` read (used, for the
    /// unused-option warning).
    substituted: std::collections::HashSet<(String, String)>,
}

type Seen = Vec<(String, String)>;

/// Deepest chain of sections, options and macros evaluated inside one another.
const MAX_DEPTH: usize = 400;

impl<'c> Evaluator<'c> {
    pub fn new(raw: &'c RawConfig) -> Self {
        Evaluator {
            raw,
            sections: HashMap::new(),
            changed: Default::default(),
            substituted: Default::default(),
            doing: Vec::new(),
            parts: Vec::new(),
            references: HashMap::new(),
            recipe_hook: None,
        }
    }

    pub fn with_recipe_hook(mut self, hook: Box<RecipeHook<'c>>) -> Self {
        self.recipe_hook = Some(hook);
        self
    }

    pub fn set_recipe_hook(&mut self, hook: Box<RecipeHook<'c>>) {
        self.recipe_hook = Some(hook);
    }

    pub fn raw(&self) -> &'c RawConfig {
        self.raw
    }

    /// Runs `f` with `label` on the `While:` stack.
    pub fn doing<T>(&mut self, label: String, f: impl FnOnce(&mut Self) -> Result<T, ConfigError>) -> Result<T, ConfigError> {
        // Buildout hits Python's recursion limit on absurdly deep reference chains;
        // bo stops with a clear error instead of overflowing its stack.
        if self.doing.len() >= MAX_DEPTH {
            return Err(self.error(ConfigErrorKind::Other(format!(
                "references nested more than {MAX_DEPTH} levels deep while {label}"
            ))));
        }
        self.doing.push(label);
        let result = f(self);
        self.doing.pop();
        result
    }

    pub fn error(&self, kind: ConfigErrorKind) -> ConfigError {
        ConfigError::with_doing(kind, &self.doing)
    }

    /// Evaluates section `name` if it was not yet (Buildout's `buildout[name]`).
    pub fn section(&mut self, name: &str) -> Result<(), ConfigError> {
        self.doing(format!("Getting section {name}."), |ev| {
            if ev.sections.contains_key(name) {
                return Ok(());
            }
            let Some(raw) = ev.raw.get(name) else {
                return Err(ev.error(ConfigErrorKind::MissingSection(name.to_string())));
            };
            ev.sections.insert(
                name.to_string(),
                SectionState {
                    raw: raw.clone(),
                    ..Default::default()
                },
            );
            ev.changed.insert(name.to_string());
            ev.initialize(name)
        })
    }

    fn initialize(&mut self, name: &str) -> Result<(), ConfigError> {
        self.doing(format!("Initializing section {name}."), |ev| {
            let raw = ev.sections[name].raw.clone();
            let raw = if raw.contains_key("<") {
                ev.expand_macros(name, &raw, &mut Vec::new())?
            } else {
                raw
            };
            ev.sections.get_mut(name).unwrap().raw = raw.clone();
            ev.changed.insert(name.to_string());
            let mut keys: Vec<&String> = raw.keys().collect();
            keys.sort();
            for key in keys {
                let value = &raw[key];
                if value.contains("${") {
                    ev.substitute_for_init(name, key, value)?;
                }
            }
            if name == "buildout" {
                return Ok(());
            }
            let dependencies = ev.get(name, PART_DEPENDENCIES, None)?.unwrap_or_default();
            for dependency in dependencies.split_whitespace() {
                ev.references.entry(name.to_string()).or_default().insert(dependency.to_string());
                ev.section(dependency)?;
            }
            if ev.get(name, "recipe", None)?.is_some_and(|r| !r.is_empty()) {
                if let Some(mut hook) = ev.recipe_hook.take() {
                    let result = hook(ev, name);
                    ev.recipe_hook = Some(hook);
                    result?;
                }
                ev.parts.push(name.to_string());
            }
            Ok(())
        })
    }

    /// `<= a b`: the sources' raw values, then the section's own on top.
    fn expand_macros(&mut self, name: &str, data: &RawSection, active: &mut Vec<String>) -> Result<RawSection, ConfigError> {
        if name == "buildout" {
            return Ok(data.clone());
        }
        if active.iter().any(|a| a == name) {
            return Err(self.error(ConfigErrorKind::MacroLoop(name.to_string())));
        }
        let Some(sources) = data.get("<") else {
            return Ok(data.clone());
        };
        active.push(name.to_string());
        let result = self.doing(format!("Loading input sections for '{name}'"), |ev| {
            let mut merged = RawSection::new();
            for source in sources.split('\n').map(str::trim).filter(|s| !s.is_empty()) {
                let Some(raw) = ev.raw.get(source) else {
                    return Err(ev.error(ConfigErrorKind::MacroMissing(source.to_string())));
                };
                merged.extend(ev.expand_macros(source, raw, active)?);
            }
            let annotate = |s: &RawSection| -> Section {
                s.iter()
                    .map(|(k, v)| (k.clone(), Annotated::new(v.clone(), Origin::Macro)))
                    .collect()
            };
            let combined = layers::update_section(&annotate(&merged), &annotate(data));
            let mut result: RawSection = combined.into_iter().map(|(k, v)| (k, v.value)).collect();
            result.shift_remove("<");
            Ok(result)
        });
        active.pop();
        result
    }

    fn substitute_for_init(&mut self, name: &str, option: &str, value: &str) -> Result<(), ConfigError> {
        self.doing(format!("Getting option {name}:{option}."), |ev| {
            let mut seen = vec![(name.to_string(), option.to_string())];
            let cooked = ev.substitute_escaped(name, value, &mut seen)?;
            ev.sections.get_mut(name).unwrap().cooked.insert(option.to_string(), cooked);
            ev.changed.insert(name.to_string());
            Ok(())
        })
    }

    /// The substituted value of `section:option`, or `None` if it is not set.
    /// The section must have been evaluated with [`Evaluator::section`].
    pub fn get(&mut self, section: &str, option: &str, seen: Option<&mut Seen>) -> Result<Option<String>, ConfigError> {
        let state = &self.sections[section];
        if let Some(v) = state.data.get(option) {
            return Ok(Some(v.clone()));
        }
        let Some(value) = state.cooked.get(option).or_else(|| state.raw.get(option)).cloned() else {
            return Ok(None);
        };
        let value = self.doing(format!("Getting option {section}:{option}."), |ev| {
            if !value.contains("${") {
                return Ok(value);
            }
            let key = (section.to_string(), option.to_string());
            let mut own = Vec::new();
            let seen = match seen {
                Some(seen) => {
                    if seen.contains(&key) {
                        return Err(ev.error(ConfigErrorKind::CircularReference));
                    }
                    seen
                }
                None => &mut own,
            };
            seen.push(key);
            let result = ev.substitute_escaped(section, &value, seen)?;
            seen.pop();
            Ok(result)
        })?;
        self.sections
            .get_mut(section)
            .unwrap()
            .data
            .insert(option.to_string(), value.clone());
        self.changed.insert(section.to_string());
        Ok(Some(value))
    }

    /// Like `get`, but a missing option is an error (Buildout's `options[key]`).
    pub fn require(&mut self, section: &str, option: &str) -> Result<String, ConfigError> {
        self.get(section, option, None)?.ok_or_else(|| {
            self.error(ConfigErrorKind::MissingOption {
                section: section.to_string(),
                option: option.to_string(),
            })
        })
    }

    /// Sets an option as a recipe or the host does (`options[key] = value`): recorded
    /// as is, never substituted.
    pub fn set(&mut self, section: &str, option: &str, value: String) {
        if let Some(state) = self.sections.get_mut(section) {
            state.data.insert(option.to_string(), value);
            self.changed.insert(section.to_string());
        }
    }

    /// Option names of an evaluated section: raw ones, then ones set later.
    pub fn keys(&self, section: &str) -> Vec<String> {
        let state = &self.sections[section];
        let mut keys: Vec<String> = state.raw.keys().cloned().collect();
        keys.extend(state.data.keys().filter(|k| !state.raw.contains_key(*k)).cloned());
        keys
    }

    /// Every option of an evaluated section, substituted (Buildout's `options.copy()`
    /// after evaluation): what recipes see and `.installed.cfg` records.
    pub fn options(&mut self, section: &str) -> Result<IndexMap<String, String>, ConfigError> {
        let mut out = IndexMap::new();
        for key in self.keys(section) {
            if let Some(value) = self.get(section, &key, None)? {
                out.insert(key, value);
            }
        }
        Ok(out)
    }

    /// The values of every evaluated section as they stand (substituted where
    /// evaluation got to), for recipes' read-only view of the configuration.
    pub fn snapshot(&self) -> HashMap<String, IndexMap<String, String>> {
        self.sections.iter().map(|(name, state)| (name.clone(), state.values())).collect()
    }

    /// Evaluates every section that has no recipe, ignoring the ones that fail (as
    /// Buildout would only fail if one were used): recipes look sections up by
    /// name (`buildout['ports']`), not only the ones their part references.
    /// Sections with a recipe are left alone: evaluating one constructs a part.
    pub fn evaluate_plain_sections(&mut self) {
        // Nor one that leads to a section with a recipe through its `${...}`
        // references or macro (evaluating it would construct that part).
        let raw = self.raw;
        let referenced = |section: &RawSection| -> Vec<String> {
            let mut out = Vec::new();
            for (key, value) in section {
                if key == "<" {
                    out.extend(value.split_whitespace().map(String::from));
                }
                let mut rest = value.as_str();
                while let Some(at) = rest.find("${") {
                    rest = &rest[at + 2..];
                    if let Some(colon) = rest.find([':', '}']) {
                        out.push(rest[..colon].trim().to_string());
                    }
                }
            }
            out
        };
        // Memoised over the whole configuration (each section looked at once).
        fn leads(name: &str, raw: &RawConfig, referenced: &dyn Fn(&RawSection) -> Vec<String>, memo: &mut HashMap<String, bool>) -> bool {
            if let Some(&known) = memo.get(name) {
                return known;
            }
            memo.insert(name.to_string(), false); // a cycle leads nowhere new
            let result = match raw.get(name) {
                None => false,
                Some(section) if section.contains_key("recipe") => true,
                Some(section) => referenced(section).iter().any(|next| leads(next, raw, referenced, memo)),
            };
            memo.insert(name.to_string(), result);
            result
        }
        let mut memo = HashMap::new();
        let names: Vec<String> = raw
            .keys()
            .filter(|name| !self.sections.contains_key(*name) && !leads(name, raw, &referenced, &mut memo))
            .cloned()
            .collect();
        for name in names {
            let doing = std::mem::take(&mut self.doing);
            if self.section(&name).is_err() {
                self.sections.remove(&name);
                self.changed.remove(&name);
            }
            self.doing = doing;
        }
    }

    /// Brings `snapshot` (an earlier [`Evaluator::snapshot`]) up to date, at the
    /// cost of the sections changed since: a recipe constructor per part must not
    /// copy the whole configuration each time.
    pub fn refresh_snapshot(&mut self, snapshot: &mut HashMap<String, IndexMap<String, String>>) {
        for name in self.changed.drain() {
            if let Some(state) = self.sections.get(&name) {
                snapshot.insert(name, state.values());
            }
        }
        for (name, state) in &self.sections {
            if !snapshot.contains_key(name) {
                snapshot.insert(name.clone(), state.values());
            }
        }
    }

    /// Marks an option as read (for the unused-option warning).
    pub fn mark_used(&mut self, section: &str, option: &str) {
        let _ = self.get(section, option, None);
    }

    /// Every section `section` depends on, directly or through others.
    pub fn dependencies(&self, section: &str) -> std::collections::BTreeSet<String> {
        let mut seen = std::collections::BTreeSet::new();
        let mut stack = vec![section.to_string()];
        while let Some(name) = stack.pop() {
            for next in self.references.get(&name).into_iter().flatten() {
                if next != section && seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    }

    pub fn is_evaluated(&self, section: &str) -> bool {
        self.sections.contains_key(section)
    }

    /// The raw options of an evaluated section (after macro expansion) that no
    /// `${}` substitution read: those its recipe must read to count as used.
    pub fn options_not_substituted(&self, section: &str) -> Vec<String> {
        let Some(state) = self.sections.get(section) else {
            return Vec::new();
        };
        let mut names: Vec<String> = state
            .raw
            .keys()
            .filter(|k| !self.substituted.contains(&(section.to_string(), (*k).clone())))
            .cloned()
            .collect();
        names.sort();
        names
    }

    /// Raw options never read through `get` (Buildout's unused-option warning).
    pub fn unused_options(&self, section: &str) -> Vec<String> {
        let state = &self.sections[section];
        let mut unused: Vec<String> = state.raw.keys().filter(|k| !state.data.contains_key(*k)).cloned().collect();
        unused.sort();
        unused
    }

    /// `$$` protects what follows from substitution; both dollars stay in the value.
    fn substitute_escaped(&mut self, section: &str, value: &str, seen: &mut Seen) -> Result<String, ConfigError> {
        let mut pieces = Vec::new();
        for piece in value.split("$$") {
            pieces.push(self.substitute(section, piece, seen)?);
        }
        Ok(pieces.join("$$"))
    }

    fn substitute(&mut self, current: &str, template: &str, seen: &mut Seen) -> Result<String, ConfigError> {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            let Some(len) = rest[start..].find('}') else { break };
            let reference = &rest[start..start + len + 1];
            out.push_str(&rest[..start]);
            rest = &rest[start + len + 1..];
            out.push_str(&self.resolve_reference(current, reference, seen)?);
        }
        out.push_str(rest);
        Ok(out)
    }

    fn resolve_reference(&mut self, current: &str, reference: &str, seen: &mut Seen) -> Result<String, ConfigError> {
        let inner = &reference[2..reference.len() - 1];
        let parts: Vec<&str> = inner.split(':').collect();
        let simple = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "- ._".contains(c));
        let valid = parts.len() == 2 && (parts[0].is_empty() || simple(parts[0])) && simple(parts[1]);
        if !valid {
            let kind = if parts.len() < 2 {
                ConfigErrorKind::SubstitutionNoColon(reference.to_string())
            } else if parts.len() > 2 {
                ConfigErrorKind::SubstitutionTooManyColons(reference.to_string())
            } else if !simple(parts[0]) {
                ConfigErrorKind::SubstitutionBadSection(reference.to_string())
            } else {
                ConfigErrorKind::SubstitutionBadOption(reference.to_string())
            };
            return Err(self.error(kind));
        }
        let section = if parts[0].is_empty() { current } else { parts[0] };
        let option = parts[1];
        self.substituted.insert((section.to_string(), option.to_string()));
        if section != current {
            self.references.entry(current.to_string()).or_default().insert(section.to_string());
        }
        self.section(section)?;
        match self.get(section, option, Some(seen))? {
            Some(v) => Ok(v),
            None if option == "_buildout_section_name_" => Ok(current.to_string()),
            None => Err(self.error(ConfigErrorKind::MissingReferencedOption {
                section: section.to_string(),
                option: option.to_string(),
            })),
        }
    }
}
