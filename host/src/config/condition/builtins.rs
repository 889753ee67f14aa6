//! The host-facing builtins of section conditions: `os.path` queries and
//! `os.access` on the host's file system, and the string methods configs use.

use super::value::{Eval, Value};

fn strings<'a>(name: &str, args: &'a [Value]) -> Result<Vec<&'a str>, String> {
    args.iter()
        .map(|a| match a {
            Value::Str(s) => Ok(s.as_str()),
            other => Err(format!("{name}() expects strings, not {}", other.type_name())),
        })
        .collect()
}

/// `os.path.*` and `os.access`, on the host's file system.
pub(super) fn os_call(name: &str, args: &[Value]) -> Eval {
    use std::path::Path;
    if name == "os.access" {
        let (Some(Value::Str(path)), Some(mode)) = (args.first(), args.get(1).and_then(Value::as_int)) else {
            return Err("os.access() takes a path and a mode".into());
        };
        let c_path = std::ffi::CString::new(path.as_str()).map_err(|_| "os.access(): embedded NUL")?;
        // SAFETY: access(2) reads a NUL-terminated path and changes nothing.
        return Ok(Value::Bool(unsafe { libc::access(c_path.as_ptr(), mode as libc::c_int) } == 0));
    }
    let parts = strings(name, args)?;
    let first = *parts.first().ok_or_else(|| format!("{name}() takes a path"))?;
    let path = Path::new(first);
    Ok(match name {
        "os.path.exists" => Value::Bool(path.exists()),
        "os.path.isdir" => Value::Bool(path.is_dir()),
        "os.path.isfile" => Value::Bool(path.is_file()),
        "os.path.islink" => Value::Bool(path.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink())),
        "os.path.basename" => Value::Str(first.rsplit('/').next().unwrap_or("").to_string()),
        "os.path.dirname" => Value::Str(first.rfind('/').map_or(String::new(), |i| {
            let head = &first[..i];
            if head.is_empty() {
                "/".to_string()
            } else {
                head.trim_end_matches('/').to_string()
            }
        })),
        // Python's join: an absolute part restarts the path.
        "os.path.join" => Value::Str(parts.iter().fold(String::new(), |acc, p| {
            if p.starts_with('/') || acc.is_empty() {
                p.to_string()
            } else if acc.ends_with('/') {
                format!("{acc}{p}")
            } else {
                format!("{acc}/{p}")
            }
        })),
        other => return Err(format!("{other}() is not supported in section conditions by bo")),
    })
}

/// The string methods conditions use.
pub(super) fn string_method(method: &str, s: &str, args: &[Value]) -> Eval {
    let affix = |args: &[Value]| -> Result<Vec<String>, String> {
        match args.first() {
            Some(Value::Str(a)) => Ok(vec![a.clone()]),
            Some(Value::Tuple(items)) => items
                .iter()
                .map(|i| match i {
                    Value::Str(a) => Ok(a.clone()),
                    _ => Err(format!("{method}() tuple items must be strings")),
                })
                .collect(),
            _ => Err(format!("{method}() takes a string or a tuple of strings")),
        }
    };
    Ok(match method {
        "startswith" => Value::Bool(affix(args)?.iter().any(|a| s.starts_with(a.as_str()))),
        "endswith" => Value::Bool(affix(args)?.iter().any(|a| s.ends_with(a.as_str()))),
        "lower" => Value::Str(s.to_lowercase()),
        "upper" => Value::Str(s.to_uppercase()),
        "strip" => Value::Str(s.trim().to_string()),
        "lstrip" => Value::Str(s.trim_start().to_string()),
        "rstrip" => Value::Str(s.trim_end().to_string()),
        "split" => Value::Tuple(match args.first() {
            Some(Value::Str(sep)) if !sep.is_empty() => s.split(sep.as_str()).map(|p| Value::Str(p.to_string())).collect(),
            _ => s.split_whitespace().map(|p| Value::Str(p.to_string())).collect(),
        }),
        other => return Err(format!("str.{other} is not supported in section conditions by bo")),
    })
}

/// `platform.freedesktop_os_release()`: `/etc/os-release`, else
/// `/usr/lib/os-release`, parsed as Python parses it (`KEY=value`, quotes and
/// backslash escapes removed); `OSError` where neither exists.
pub(super) fn os_release() -> Eval {
    let text = ["/etc/os-release", "/usr/lib/os-release"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .ok_or("OSError: no os-release file")?;
    let mut entries = vec![
        ("NAME".to_string(), "Linux".to_string()),
        ("ID".to_string(), "linux".to_string()),
        ("PRETTY_NAME".to_string(), "Linux".to_string()),
    ];
    for line in text.lines() {
        let Some((key, raw)) = line.split_once('=') else { continue };
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let raw = raw.trim();
        let unquoted = if raw.len() >= 2 && (raw.starts_with('"') && raw.ends_with('"') || raw.starts_with('\'') && raw.ends_with('\'')) {
            &raw[1..raw.len() - 1]
        } else {
            raw
        };
        let mut value = String::new();
        let mut chars = unquoted.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(next) = chars.next() {
                    value.push(next);
                }
            } else {
                value.push(c);
            }
        }
        match entries.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => entries.push((key.to_string(), value)),
        }
    }
    Ok(Value::Dict(entries))
}
