//! All grants at once: before anything runs, every capability the parts' recipes
//! declare (programs, named hosts, outside directories) is checked against the
//! user's grants. `bo build` stops if any is missing and prints them all, as one
//! ready command line and as a `bo grant` line, instead of failing one part, one
//! capability, one run at a time; `bo plan` lists them per part. Wildcard host
//! declarations (`*`) are checked when used, and environment variables a part is
//! not granted are simply absent.

use indexmap::IndexMap;

use super::build::Build;
use super::installed::PartOptions;
use crate::runtime::RecipeError;
use crate::trust::grants::Denial;

/// What the parts need: a line per part for `bo plan`, and the missing grants.
#[derive(Default)]
pub(super) struct Needed {
    pub lines: Vec<String>,
    /// (`PART:KIND=VALUE`, why) for each capability declared and not granted.
    pub missing: Vec<(String, String)>,
}

pub(super) fn check(build: &Build, parts: &[String], options: &IndexMap<String, PartOptions>) -> Needed {
    let mut needed = Needed::default();
    for part in parts {
        let Some((recipe, binding)) = build.recipes.borrow().get(part).cloned() else {
            continue;
        };
        let declared = match &binding.classic {
            Some(_) => super::classic::ClassicRecipe::declared(part, &build.grants),
            None => recipe.declared(),
        };
        let mut items = Vec::new();
        let grant = match build.grant(part, &recipe, binding, &options[part]) {
            Ok(grant) => grant,
            Err(RecipeError::Denied(denial @ Denial::NotGranted { .. })) => {
                let Denial::NotGranted { part, kind, value, .. } = &denial else {
                    unreachable!()
                };
                needed.missing.push((format!("{part}:{kind}={value}"), denial.to_string()));
                needed.lines.push(format!("  {part}: outside {value} (not granted)"));
                continue;
            }
            Err(e) => {
                needed.lines.push(format!("  {part}: {e}"));
                continue;
            }
        };
        // Each declared program and named host: granted, or one more missing grant.
        let programs = declared.programs.iter().map(|p| ("program", p, grant.check_program(p)));
        let hosts = declared.hosts.iter().map(|h| ("host", h, grant.check_host(h)));
        for (kind, value, checked) in programs.chain(hosts) {
            match checked {
                _ if kind == "host" && value.contains('*') => items.push(format!("host {value} (each host granted when used)")),
                Ok(()) => items.push(format!("{kind} {value} (granted)")),
                Err(denial) => {
                    items.push(format!("{kind} {value} (not granted)"));
                    needed.missing.push((format!("{part}:{kind}={value}"), denial.to_string()));
                }
            }
        }
        for dir in &declared.outside {
            items.push(format!("outside {dir} (granted)"));
        }
        let visible: Vec<String> = grant.visible_env().into_iter().map(|(k, _)| k).collect();
        for var in &declared.env {
            let state = if visible.contains(var) { "granted" } else { "not granted: absent" };
            items.push(format!("env {var} ({state})"));
        }
        if !items.is_empty() {
            needed
                .lines
                .push(format!("  {part} (recipe {}): {}", recipe.name, items.join(", ")));
        }
    }
    needed
}

/// The refusal `bo build` gives when grants are missing: every one, and how to
/// give them all at once.
pub(super) fn refusal(missing: &[(String, String)]) -> String {
    let mut text = String::from("the parts need capabilities you have not granted; nothing was run:\n");
    for (_, why) in missing {
        text.push_str(&format!("  {why}\n"));
    }
    let flags: Vec<String> = missing.iter().map(|(g, _)| format!("--grant {g}")).collect();
    let words: Vec<&str> = missing.iter().map(|(g, _)| g.as_str()).collect();
    text.push_str(&format!("grant them for this run:  bo build {}\n", flags.join(" ")));
    text.push_str(&format!("or keep them, bound to these recipes:  bo grant {}\n", words.join(" ")));
    text.push_str("(a program grant lets the configuration run that program outside the WebAssembly sandbox, confined to the part's directories; see docs/security.md)");
    text
}
