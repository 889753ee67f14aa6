//! The `bo` command line: Buildout's flags and `section:option=value` assignments,
//! and one subcommand per task. Parsing is clap's; this module only turns the words
//! into [`config::LoadOptions`] and dispatches. Errors print as `error: ...` after a
//! `While:` chain, with exit code 1.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::config::{self, Config, ConfigError, LoadOptions};

mod grant;
pub mod recipe;

#[derive(Debug, Parser)]
#[command(
    name = "bo",
    version,
    about = "Buildout, reimplemented: assemble applications from buildout.cfg with sandboxed recipes",
    after_help = "Assignments `section:option=value` (also `+=`, `-=`; section defaults to buildout) may be given before the command."
)]
pub struct Cli {
    /// The configuration file (default: buildout.cfg).
    #[arg(short = 'c', global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Don't read the user defaults (~/.buildout/default.cfg).
    #[arg(short = 'U', global = true)]
    pub no_user_defaults: bool,
    /// Offline: never touch the network (buildout:offline=true).
    #[arg(short = 'o', global = true)]
    pub offline: bool,
    /// Online (buildout:offline=false).
    #[arg(short = 'O', global = true)]
    pub online: bool,
    /// Look for newer distributions (buildout:newest=true).
    #[arg(short = 'n', global = true)]
    pub newest: bool,
    /// Don't look for newer distributions (buildout:newest=false).
    #[arg(short = 'N', global = true)]
    pub not_newest: bool,
    /// More output; repeat for more.
    #[arg(short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Less output; repeat for less.
    #[arg(short = 'q', global = true, action = clap::ArgAction::Count)]
    pub quiet: u8,
    /// Socket timeout in seconds (buildout:socket-timeout).
    #[arg(short = 't', global = true, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Debug: print the full error chain on failure.
    #[arg(short = 'D', global = true)]
    pub debug: bool,
    /// Grant a capability: PART:KIND=VALUE, KIND one of outside, host, program, env,
    /// build; PART may be `*`, or `buildout` for the configuration itself (e.g.
    /// `--grant cmmi:program=make`, `--grant buildout:host=dist.plone.org`).
    #[arg(long = "grant", global = true, value_name = "PART:KIND=VALUE")]
    pub grants: Vec<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Install the configured parts (Buildout's `install`); the default command.
    #[command(alias = "install")]
    Build {
        /// Only these parts (leaves parts that are no longer configured alone).
        parts: Vec<String>,
        #[command(flatten)]
        sandbox: SandboxArgs,
    },
    /// Show what `bo build` would do to each part, and why, without doing it.
    Plan {
        #[command(flatten)]
        sandbox: SandboxArgs,
        /// Print the plan as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List every option with its value and where it came from.
    Annotate {
        /// Only these sections.
        sections: Vec<String>,
    },
    /// Start a buildout here (Buildout's `init`): a minimal buildout.cfg (with the
    /// requirements, a zc.recipe.egg part `py` with an interpreter), then build it.
    Init {
        /// Distributions for the `py` part.
        requirements: Vec<String>,
        #[command(flatten)]
        sandbox: SandboxArgs,
    },
    /// Keep grants in your grants file, bound to the recipe each part has now
    /// (a configuration that changes the part's recipe loses them).
    Grant {
        /// PART:KIND=VALUE (as --grant), one or more.
        #[arg(required = true)]
        grants: Vec<String>,
        /// For every buildout (default: only the buildout of this configuration).
        #[arg(long, conflicts_with = "here")]
        global: bool,
        /// Only for the buildout of this configuration (the default).
        #[arg(long)]
        here: bool,
    },
    /// Work with recipes: scaffold, build, publish and fetch them.
    #[command(subcommand)]
    Recipe(recipe::RecipeCommand),
    /// Print one raw option value, or with --json the whole resolved configuration.
    Query {
        /// `[section:]option` (section defaults to buildout).
        key: Vec<String>,
        /// Print every section fully resolved, as JSON, without running recipes.
        #[arg(long)]
        json: bool,
    },
}

/// What recipes may use and how much: grants and limits. Only the command line and
/// the user's own files grant; the build's configuration never does.
#[derive(Debug, Clone, clap::Args)]
pub struct SandboxArgs {
    /// Run granted programs even where the kernel cannot confine them (no Landlock).
    #[arg(long)]
    pub allow_unconfined_programs: bool,
    /// Wall-clock limit for one recipe call, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub recipe_timeout: u64,
    /// Memory limit for one recipe instance, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 1024)]
    pub recipe_memory: usize,
    /// How many independent parts may run at once (default: the number of CPUs).
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Fail if bo.lock would change.
    #[arg(long, conflicts_with = "frozen")]
    pub locked: bool,
    /// Install the distributions bo.lock names, without resolving.
    #[arg(long)]
    pub frozen: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// How to reach OCI registries.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RegistryArgs {
    /// Use plain HTTP (only for registries on 127.0.0.1 / localhost).
    #[arg(long)]
    pub insecure: bool,
    /// Trust this CA certificate (PEM) besides the system store.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
}

impl RegistryArgs {
    pub fn options(&self, offline: bool) -> crate::oci::OciOptions {
        crate::oci::OciOptions {
            insecure: self.insecure,
            ca_file: self.ca_file.clone(),
            offline,
            store: crate::fsutil::default_cache_dir().join("oci"),
        }
    }
}

impl SandboxArgs {
    fn build_options(
        &self,
        only: &[String],
        quiet: bool,
        grants: crate::trust::grants::UserGrants,
    ) -> Result<crate::plan::BuildOptions, String> {
        Ok(crate::plan::BuildOptions {
            only: only.to_vec(),
            grants,
            limits: crate::runtime::Limits {
                wall_time: std::time::Duration::from_secs(self.recipe_timeout),
                memory_bytes: self.recipe_memory << 20,
                allow_unconfined_programs: self.allow_unconfined_programs,
                ..Default::default()
            },
            cache_dir: crate::fsutil::default_cache_dir(),
            quiet,
            oci: self.registry.options(false),
            jobs: self
                .jobs
                .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)),
            extensions: None,
            lock_mode: if self.frozen {
                crate::plan::recipes::LockMode::Frozen
            } else if self.locked {
                crate::plan::recipes::LockMode::Locked
            } else {
                crate::plan::recipes::LockMode::Update
            },
        })
    }
}

/// Flags whose value is the next word (so a value like `a:env=X` is not taken for
/// an assignment).
const VALUE_FLAGS: &[&str] = &[
    "-c",
    "-t",
    "-j",
    "--jobs",
    "--grant",
    "--recipe-timeout",
    "--recipe-memory",
    "--ca-file",
];

/// Splits Buildout-style assignments (`section:option=value`) out of the arguments:
/// words with `=` that are neither flags nor flag values, before the command or
/// after it (but never inside `bo recipe ...`, whose values are its own).
fn split_assignments(args: Vec<OsString>) -> (Vec<OsString>, Vec<String>) {
    let mut rest = Vec::new();
    let mut assignments = Vec::new();
    let mut iter = args.into_iter();
    if let Some(program) = iter.next() {
        rest.push(program);
    }
    let mut expecting_value = false;
    let mut in_recipe_command = false;
    for arg in iter {
        let text = arg.to_string_lossy().into_owned();
        if expecting_value || in_recipe_command {
            expecting_value = false;
            rest.push(arg);
            continue;
        }
        if text.starts_with('-') {
            // `-c FILE`, `--grant G`...: the next word is the value unless glued
            // (`-cFILE`, `--grant=G`).
            expecting_value = VALUE_FLAGS.contains(&text.as_str());
            if !text.starts_with("--") && text.len() > 2 && text[1..].chars().all(|c| "vqUoOnNDct".contains(c)) {
                // Combined letters ending in a value flag: `-Nc FILE`.
                expecting_value = text.ends_with(['c', 't']);
            }
            rest.push(arg);
        } else if text.contains('=') {
            assignments.push(text);
        } else {
            in_recipe_command = (text == "recipe" || text == "grant")
                && rest.len() == rest.iter().filter(|a| a.to_string_lossy().starts_with('-')).count() + 1;
            rest.push(arg);
        }
    }
    (rest, assignments)
}

/// Every `--grant VALUE` / `--grant=VALUE` among the arguments (not inside `bo
/// recipe ...`, which has no grants).
fn grant_values(args: &[OsString]) -> Vec<String> {
    let mut out = Vec::new();
    let mut iter = args.iter().map(|a| a.to_string_lossy().into_owned());
    while let Some(arg) = iter.next() {
        if arg == "--grant" {
            out.extend(iter.next());
        } else if let Some(value) = arg.strip_prefix("--grant=") {
            out.push(value.to_string());
        }
    }
    out
}

/// Parses `[section:]option=value` (Buildout's rules: both sides stripped, the
/// section defaults to `buildout`, more than one `:` is an error).
fn parse_assignment(word: &str) -> Result<(String, String, String), String> {
    let (key, value) = word.split_once('=').expect("assignments contain '='");
    let parts: Vec<&str> = key.split(':').collect();
    let (section, option) = match parts.as_slice() {
        [option] => ("buildout", *option),
        [section, option] => (*section, *option),
        _ => return Err(format!("Invalid option: {key}")),
    };
    Ok((section.trim().to_string(), option.trim().to_string(), value.trim().to_string()))
}

impl Cli {
    /// The `--grant` options.
    fn user_grants(&self) -> Result<crate::trust::grants::UserGrants, String> {
        let grants = self
            .grants
            .iter()
            .map(|g| g.parse())
            .collect::<Result<Vec<_>, String>>()
            .map_err(|e| format!("error: {e}"))?;
        Ok(crate::trust::grants::UserGrants { grants })
    }

    fn load_options(&self, assignments: &[String]) -> Result<LoadOptions, String> {
        let cwd = std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
        let mut options = LoadOptions::new(cwd);
        if let Some(config) = &self.config {
            options.config_file = config.clone();
        }
        options.use_user_defaults = !self.no_user_defaults;
        let mut flag = |option: &str, value: &str| {
            options.assignments.push(("buildout".into(), option.into(), value.into()));
        };
        if self.offline {
            flag("offline", "true");
        }
        if self.online {
            flag("offline", "false");
        }
        if self.newest {
            flag("newest", "true");
        }
        if self.not_newest {
            flag("newest", "false");
        }
        if let Some(timeout) = self.timeout {
            flag("socket-timeout", &timeout.to_string());
        }
        let verbosity = 10 * (self.verbose as i64 - self.quiet as i64);
        if verbosity != 0 {
            flag("verbosity", &verbosity.to_string());
        }
        for word in assignments {
            options.assignments.push(parse_assignment(word)?);
        }
        Ok(options)
    }
}

/// Runs bo with the process arguments; returns the exit code.
pub fn main() -> i32 {
    let (args, assignments) = split_assignments(std::env::args_os().collect());
    let every_grant = grant_values(&args);
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) if e.kind() == clap::error::ErrorKind::InvalidSubcommand => {
            let word = e
                .get(clap::error::ContextKind::InvalidSubcommand)
                .map(|v| v.to_string())
                .unwrap_or_default();
            eprintln!("error: invalid command: {word}");
            return 1;
        }
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 1 } else { 0 };
        }
    };
    // clap keeps only one position's values of a global flag; every `--grant`
    // counts, before or after the command.
    let mut cli = cli;
    cli.grants = every_grant;
    if matches!(cli.command, None | Some(Command::Build { .. } | Command::Init { .. })) {
        crate::runtime::install_interrupt_handler();
    }
    match run(&cli, &assignments) {
        Ok(()) => 0,
        Err(message) => {
            let _ = std::io::stdout().flush();
            eprintln!("{message}");
            if crate::runtime::interrupted() { 130 } else { 1 }
        }
    }
}

fn report(e: ConfigError) -> String {
    e.report()
}

fn run(cli: &Cli, assignments: &[String]) -> Result<(), String> {
    // Recipe commands work without a buildout.
    if let Some(Command::Recipe(command)) = &cli.command {
        return recipe::run(command).map_err(|m| format!("error: {m}"));
    }
    let mut options = cli.load_options(assignments).map_err(|m| format!("error: {m}"))?;
    if let Some(Command::Init { requirements, .. }) = &cli.command {
        init(&crate::config::abspath(&options.cwd, &options.config_file), requirements)?;
    }
    // What the configuration may pull in with `extends` is the trust boundary's
    // decision, under the user's grants (command line and grants file).
    let config_file = crate::config::abspath(&options.cwd, &options.config_file);
    let command_line_grants = cli.user_grants()?;
    let mut grants = command_line_grants.clone();
    grants
        .add_from_file(
            &crate::trust::grants::user_grants_file(),
            config_file.parent().unwrap_or(Path::new(".")),
        )
        .map_err(|m| format!("error: {m}"))?;
    options.read_policy = Some(std::sync::Arc::new(crate::trust::extends::ExtendsPolicy::new(
        &config_file,
        &grants,
    )));
    // `-t` applies to every request, from the first `extends` on.
    if let Some(seconds) = cli.timeout {
        crate::net::set_socket_timeout(std::time::Duration::from_secs(seconds));
    }
    // Only annotate shows each value's history; the rest need its last step.
    config::layers::keep_history(matches!(cli.command, Some(Command::Annotate { .. })));
    let config = Config::load(&options).map_err(report)?;
    // `socket-timeout` from a file counts once the configuration is read.
    if cli.timeout.is_none()
        && let Some(seconds) = config
            .raw
            .get("buildout")
            .and_then(|b| b.get("socket-timeout"))
            .and_then(|v| v.trim().parse::<u64>().ok())
        && seconds > 0
    {
        crate::net::set_socket_timeout(std::time::Duration::from_secs(seconds));
    }
    let json = matches!(cli.command, Some(Command::Query { json: true, .. }));
    for notice in &config.notices {
        // Keep stdout pure JSON when JSON was asked for.
        if json { eprintln!("{notice}") } else { println!("{notice}") }
    }
    let default = Command::Build {
        parts: Vec::new(),
        sandbox: SandboxArgs {
            allow_unconfined_programs: false,
            recipe_timeout: 600,
            recipe_memory: 1024,
            jobs: None,
            locked: false,
            frozen: false,
            registry: RegistryArgs::default(),
        },
    };
    match cli.command.as_ref().unwrap_or(&default) {
        Command::Annotate { sections } => {
            let session = config.evaluate().map_err(report)?;
            let verbose = session.settings.verbosity != 0;
            let basedir = config.directory.to_string_lossy();
            print!("{}", config::annotate::annotate(&config.annotated, verbose, sections, &basedir));
            Ok(())
        }
        Command::Query { key, json } => query(&config, key, *json),
        Command::Init { sandbox, .. } => {
            let options = sandbox.build_options(&[], cli.quiet > 0, command_line_grants)?;
            crate::plan::build(&config, &options).map_err(|e| e.report())
        }
        Command::Build { parts, sandbox } => {
            let options = sandbox.build_options(parts, cli.quiet > 0, command_line_grants)?;
            crate::plan::build(&config, &options).map_err(|e| e.report())
        }
        Command::Recipe(_) => unreachable!("handled before loading the configuration"),
        Command::Grant { grants, global, .. } => grant::grant(&config, grants, *global),
        Command::Plan { sandbox, json } => {
            let options = sandbox.build_options(&[], cli.quiet > 0, command_line_grants)?;
            let plan = crate::plan::plan(&config, &options).map_err(|e| e.report())?;
            if *json {
                let text = serde_json::to_string_pretty(&plan.to_json()).map_err(|e| format!("error: {e}"))?;
                println!("{text}");
                return Ok(());
            }
            let actions = plan.actions();
            if actions.is_empty() {
                println!("nothing to do");
            }
            for action in actions {
                println!("{action}");
            }
            if !plan.capabilities.is_empty() {
                println!("capabilities:");
                for line in &plan.capabilities {
                    println!("{line}");
                }
            }
            if !plan.missing_grants.is_empty() {
                let flags: Vec<String> = plan.missing_grants.iter().map(|(g, _)| format!("--grant {g}")).collect();
                println!("missing grants: bo build {}", flags.join(" "));
            }
            Ok(())
        }
    }
}

/// `bo init`: writes Buildout's minimal configuration (refusing to replace one).
fn init(config_file: &Path, requirements: &[String]) -> Result<(), String> {
    if config_file.exists() {
        return Err(format!("error: {} already exists", config_file.display()));
    }
    let text = if requirements.is_empty() {
        "[buildout]\nparts =\n".to_string()
    } else {
        let eggs: String = requirements.iter().map(|r| format!("\n    {r}")).collect();
        format!("[buildout]\nparts = py\n\n[py]\nrecipe = zc.recipe.egg\ninterpreter = py\neggs ={eggs}\n")
    };
    std::fs::write(config_file, text).map_err(|e| format!("error: cannot write {}: {e}", config_file.display()))?;
    println!("Creating '{}'.", config_file.display());
    Ok(())
}

fn query(config: &Config, key: &[String], json: bool) -> Result<(), String> {
    let mut session = config.evaluate().map_err(report)?;
    if json {
        let resolution = session.resolve_all();
        let text = serde_json::to_string_pretty(&resolution).map_err(|e| format!("error: {e}"))?;
        println!("{text}");
        return Ok(());
    }
    let [key] = key else {
        return Err("error: The query command requires a single argument.".into());
    };
    let parts: Vec<&str> = key.split(':').collect();
    let (section, option) = match parts.as_slice() {
        [option] => ("buildout", *option),
        [section, option] => (*section, *option),
        _ => return Err(format!("error: Invalid option: {key}")),
    };
    if session.settings.verbosity != 0 {
        println!("${{{section}:{option}}}");
    }
    match config.raw.get(section) {
        None => Err(format!("error: Section not found: {section}")),
        Some(values) => match values.get(option) {
            Some(value) => {
                println!("{value}");
                Ok(())
            }
            None => Err(format!("error: Key not found: {option}")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn assignments_and_flag_values() {
        let words = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        let (rest, assignments) = split_assignments(words(&["bo", "-U", "a:x=1", "build", "--grant", "p:env=X", "b:y+=2"]));
        assert_eq!(assignments, ["a:x=1", "b:y+=2"]);
        assert_eq!(rest, words(&["bo", "-U", "build", "--grant", "p:env=X"]));
        let (_, assignments) = split_assignments(words(&["bo", "recipe", "login", "r", "-p", "pass=word"]));
        assert!(assignments.is_empty());
        let grants = grant_values(&words(&[
            "bo",
            "--grant",
            "a:host=x",
            "build",
            "--grant=b:env=Y",
            "--grant",
            "c:program=z",
        ]));
        assert_eq!(grants, ["a:host=x", "b:env=Y", "c:program=z"]);
    }
}
