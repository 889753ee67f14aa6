//! Rendering for `bo annotate` (each option's merged value and where it came from,
//! in Buildout's exact listing format) and `bo query` (one raw value).

use std::fmt::Write;

use super::layers::{Annotated, HistoryItem, Layer, Operation, Origin, relative_to};

/// Buildout's `_print_annotate`: sections and options sorted; `verbose` (`-v`) shows
/// each value's whole history, newest first.
pub fn annotate(data: &Layer, verbose: bool, chosen: &[String], basedir: &str) -> String {
    let mut out = String::new();
    out.push_str("\nAnnotated sections\n==================\n");
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for name in names {
        if !chosen.is_empty() && !chosen.contains(name) {
            continue;
        }
        let _ = write!(out, "\n[{name}]\n");
        let section = &data[name];
        let mut keys: Vec<&String> = section.keys().collect();
        keys.sort();
        for key in keys {
            let value = &section[key];
            key_and_value(&mut out, key, value);
            if verbose {
                out.push('\n');
                for item in value.history.iter().rev() {
                    history_item(&mut out, item, basedir);
                }
                out.push('\n');
            } else {
                terse_history(&mut out, value, basedir);
            }
        }
    }
    out
}

/// Python's `str.splitlines` for the separators Buildout values can contain.
fn split_lines(value: &str) -> Vec<&str> {
    value.lines().collect()
}

fn key_and_value(out: &mut String, key: &str, value: &Annotated) {
    let lines = split_lines(&value.value);
    if lines.len() <= 1 {
        if value.value.is_empty() {
            let _ = writeln!(out, "{key}=");
        } else {
            let _ = writeln!(out, "{key}= {}", value.value);
        }
    } else {
        let _ = writeln!(out, "{key}= {}", lines[0]);
        for line in &lines[1..] {
            let _ = writeln!(out, "{line}");
        }
    }
}

fn source_for_human(origin: &Origin, basedir: &str) -> String {
    let label = origin.label();
    if label.starts_with(basedir) {
        relative_to(label, basedir)
    } else {
        label.to_string()
    }
}

/// The history back to the last plain assignment, oldest first.
fn terse_history(out: &mut String, value: &Annotated, basedir: &str) {
    let mut lines = Vec::new();
    for item in value.history.iter().rev() {
        let source = source_for_human(&item.origin, basedir);
        match item.operation {
            Operation::Add => lines.push(format!("+=  {source}")),
            Operation::Remove => lines.push(format!("-=  {source}")),
            _ => {
                lines.push(format!("    {source}"));
                break;
            }
        }
    }
    for line in lines.iter().rev() {
        if !line.trim().is_empty() {
            let _ = writeln!(out, "{line}");
        }
    }
}

fn history_item(out: &mut String, item: &HistoryItem, basedir: &str) {
    let prefix = match item.origin {
        Origin::Default | Origin::Computed | Origin::CommandLine => "AS",
        _ => "IN",
    };
    let _ = writeln!(out, "   {prefix} {}", source_for_human(&item.origin, basedir));
    let lines = split_lines(&item.value);
    let operation = item.operation.name();
    if lines.len() <= 1 {
        let _ = writeln!(out, "   {operation} VALUE = {}", item.value);
    } else {
        let _ = writeln!(out, "   {operation} VALUE =");
        for line in lines {
            let _ = writeln!(out, "      {line}");
        }
    }
}
