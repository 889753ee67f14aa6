//! Conformance with zc.buildout 6.0.1: every configuration case in
//! `tests/conformance/cases/0NN-*` (copied from the shared corpus, produced by running
//! the real Buildout) is run through `bo` in a scratch copy and compared:
//!
//! - the exit code;
//! - for `annotate`, the listing (from `Annotated sections` on);
//! - the fully resolved configuration, through `bo query --json`, against `resolved`
//!   (sections Buildout could not evaluate must show up as `unresolved`);
//! - for errors, the message: Buildout's `Error: ...` text exactly, or, where Buildout
//!   printed a Python traceback, the culprit (file and line, name) it named.
//!
//! Lifecycle cases (075-084) need recipes and are run by the runtime tests.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance/cases")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run_bo(dir: &Path, args: &[String]) -> Outcome {
    let out = Command::new(env!("CARGO_BIN_EXE_bo"))
        .args(args)
        .current_dir(dir)
        .env("HOME", dir.join("home"))
        .env_remove("BUILDOUT_HOME")
        .output()
        .expect("bo runs");
    let root = dir.to_string_lossy().into_owned();
    let norm = |b: &[u8]| String::from_utf8_lossy(b).replace(&root, "{root}");
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: norm(&out.stdout),
        stderr: norm(&out.stderr),
    }
}

/// Replaces what the corpus says bo need not match: the interpreter path and
/// Buildout's own version pin.
fn normalize_listing(text: &str) -> String {
    let mut out = Vec::new();
    let mut in_executable = false;
    for line in text.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            in_executable = line.starts_with("executable= ");
        }
        if line.starts_with("executable= ") {
            out.push("executable= {python}".to_string());
        } else if in_executable && line.starts_with("   SET VALUE = ") {
            out.push("   SET VALUE = {python}".to_string());
        } else {
            out.push(line.replace(">=6.0.1", ">={buildout-version}"));
        }
    }
    out.join("\n")
}

fn annotate_listing(stdout: &str) -> String {
    match stdout.find("\nAnnotated sections") {
        Some(i) => normalize_listing(&stdout[i..]),
        None => normalize_listing(stdout),
    }
}

/// Culprits bo must name where Buildout printed a Python traceback instead of a
/// message (parse errors, missing extends file, bad condition).
fn traceback_culprits(case: &str) -> &'static [&'static str] {
    match case {
        "010-err-colon-separator" => &["buildout.cfg:5", "x: 1"],
        "011-err-no-section-header" => &["buildout.cfg:1", "x = 1"],
        "012-err-indented-first-option" => &["buildout.cfg:5", "  x = 1"],
        "013-err-multiple-bad-lines" => &["buildout.cfg:5", "junk line one", "buildout.cfg:7", "another junk"],
        "020-err-section-name-with-space" => &["buildout.cfg:6", "[my sec]", "buildout.cfg:7"],
        "044-err-extends-missing-file" => &["{root}/buildout.cfg", "{root}/nope.cfg"],
        "060-err-conditional-bad-expr" => &["buildout.cfg", "undefined_name"],
        _ => &[],
    }
}

fn check_error(case: &str, expected: &str, got: &Outcome, problems: &mut Vec<String>) {
    let expected = expected.trim_end();
    if let Some(i) = expected
        .rfind("\nError: ")
        .map(|i| i + 1)
        .or_else(|| expected.starts_with("Error: ").then_some(0))
    {
        let message = expected[i + "Error: ".len()..].trim();
        let got_message = got.stderr.rfind("error: ").map(|j| got.stderr[j + "error: ".len()..].trim());
        if got_message != Some(message) {
            problems.push(format!("error message: expected {message:?}, got stderr {:?}", got.stderr));
        }
    } else {
        let culprits = traceback_culprits(case);
        if culprits.is_empty() {
            problems.push("no culprit list for a traceback case".into());
        }
        for culprit in culprits {
            if !got.stderr.contains(culprit) {
                problems.push(format!("stderr does not name {culprit:?}: {:?}", got.stderr));
            }
        }
        if !got.stderr.contains("error: ") {
            problems.push(format!("stderr has no `error: ` line: {:?}", got.stderr));
        }
    }
}

fn check_resolved(expected: &Value, dir: &Path, flags: &[String], problems: &mut Vec<String>) {
    let mut args = flags.to_vec();
    args.extend(["query".to_string(), "--json".to_string()]);
    let got = run_bo(dir, &args);
    if got.code != 0 {
        problems.push(format!("query --json failed: {}", got.stderr));
        return;
    }
    let got: Value = match serde_json::from_str(&got.stdout) {
        Ok(v) => v,
        Err(e) => return problems.push(format!("query --json printed no JSON ({e}): {}", got.stdout)),
    };
    for (name, section) in expected.as_object().unwrap() {
        let got_section = &got["sections"][name];
        if section.get("__error__").is_some() {
            if got["unresolved"][name].as_object().is_none_or(|m| m.is_empty()) {
                problems.push(format!(
                    "[{name}] should be unresolved ({}), got {got_section}",
                    section["__error__"]
                ));
            }
            continue;
        }
        if got["unresolved"].get(name).is_some() {
            problems.push(format!("[{name}] unexpectedly unresolved: {}", got["unresolved"][name]));
        }
        for (option, value) in section.as_object().unwrap() {
            if name == "buildout" && option == "executable" {
                continue;
            }
            let want = value.as_str().unwrap().replace(">={buildout-version}", ">=6.0.1");
            if got_section[option].as_str() != Some(want.as_str()) {
                problems.push(format!("[{name}] {option}: expected {want:?}, got {}", got_section[option]));
            }
        }
        if let Some(got_options) = got_section.as_object() {
            for option in got_options.keys() {
                if section.get(option).is_none() {
                    problems.push(format!("[{name}] {option}: not in Buildout's resolution"));
                }
            }
        } else {
            problems.push(format!("[{name}] missing from sections"));
        }
    }
    for name in got["sections"]
        .as_object()
        .map(|m| m.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        if expected.get(&name).is_none() {
            problems.push(format!("[{name}] not in Buildout's resolution"));
        }
    }
}

fn run_case(case_dir: &Path) -> Vec<String> {
    let case = case_dir.file_name().unwrap().to_string_lossy().into_owned();
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().canonicalize().unwrap();
    copy_dir(case_dir, &dir);
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(case_dir.join("expected.json")).unwrap()).unwrap();
    let cmd = std::fs::read_to_string(case_dir.join("cmd")).unwrap();
    let words: Vec<String> = cmd.split_whitespace().skip(1).map(String::from).collect();
    let command_at = words
        .iter()
        .position(|w| !w.starts_with('-') && !w.contains('=') && !w.chars().all(|c| c.is_ascii_digit()));
    let flags: Vec<String> = match command_at {
        Some(i) => words[..i].to_vec(),
        None => words.clone(),
    };
    let command = command_at.map(|i| words[i].as_str()).unwrap_or("install");

    let mut problems = Vec::new();
    let got = run_bo(&dir, &words);
    let want_code = expected["exit_code"].as_i64().unwrap() as i32;
    if got.code != want_code {
        problems.push(format!("exit code {} (expected {want_code}); stderr: {}", got.code, got.stderr));
    }
    if want_code != 0 {
        let expected_error = std::fs::read_to_string(case_dir.join("expected-error.txt")).unwrap_or_default();
        check_error(&case, &expected_error, &got, &mut problems);
    } else if command == "annotate" {
        let want = std::fs::read_to_string(case_dir.join("expected-stdout.txt")).unwrap();
        let (want, got_listing) = (annotate_listing(&want), annotate_listing(&got.stdout));
        if want != got_listing {
            problems.push(format!("annotate listing differs:\n--- expected\n{want}\n--- bo\n{got_listing}"));
        }
    } else if command == "query" {
        let want = std::fs::read_to_string(case_dir.join("expected-stdout.txt")).unwrap();
        // Buildout creates the eggs directory even to answer a query; bo does not.
        let want: String = want
            .lines()
            .filter(|l| !l.starts_with("Creating directory"))
            .map(|l| format!("{l}\n"))
            .collect();
        if want.trim_end() != got.stdout.trim_end() {
            problems.push(format!("query output: expected {want:?}, got {:?}", got.stdout));
        }
    }
    if let Some(resolved) = expected.get("resolved") {
        if expected.get("resolve_error").is_none() {
            check_resolved(resolved, &dir, &flags, &mut problems);
        }
    }
    problems
}

#[test]
fn config_cases_match_zc_buildout() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().as_ref() < "075")
        .collect();
    dirs.sort();
    assert_eq!(dirs.len(), 74, "the corpus has 74 configuration cases");
    let mut failed = Vec::new();
    for dir in &dirs {
        let problems = run_case(dir);
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if !problems.is_empty() {
            eprintln!("FAIL {name}\n  {}", problems.join("\n  "));
            failed.push(name);
        }
    }
    eprintln!("conformance: {} of {} cases pass", dirs.len() - failed.len(), dirs.len());
    assert!(failed.is_empty(), "failing cases: {failed:?}");
}

/// Cases found while checking real-world configurations against zc.buildout 6.0.1,
/// reduced to a few lines and recorded with the real Buildout's output (same format).
#[test]
fn extra_cases_match_zc_buildout() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance/extra");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut failed = Vec::new();
    for dir in &dirs {
        let problems = run_case(dir);
        if !problems.is_empty() {
            eprintln!("FAIL {}\n  {}", dir.display(), problems.join("\n  "));
            failed.push(dir.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    assert!(failed.is_empty(), "failing cases: {failed:?}");
}
