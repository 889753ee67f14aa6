//! Typed errors of the configuration language, each naming its culprit (file and line,
//! or section and option) plus the `While:` chain of what bo was doing when it failed.

use std::fmt;
use std::path::PathBuf;

/// One bad line found by the parser; all of a file's bad lines are reported together.
#[derive(Debug, Clone, PartialEq)]
pub struct BadLine {
    pub line: usize,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigErrorKind {
    #[error("{file} contains parsing errors:{}", render_bad_lines(file, lines))]
    Parse { file: String, lines: Vec<BadLine> },
    #[error("{file}:{line}: option line before any [section] header: {text:?}")]
    MissingSectionHeader { file: String, line: usize, text: String },
    #[error("{file}:{line}: invalid condition in section header [{section}:{expression}]: {message}")]
    Condition {
        file: String,
        line: usize,
        section: String,
        expression: String,
        message: String,
    },
    #[error("Couldn't open {}", path.display())]
    MissingConfig { path: PathBuf },
    #[error("{file}: cannot read extended file {}: {message}", path.display())]
    ExtendsRead { file: String, path: PathBuf, message: String },
    #[error("{0}")]
    Download(String),
    #[error("Recursive file include {} {file}", render_stack(stack))]
    RecursiveInclude { stack: Vec<String>, file: String },
    #[error("No-longer supported \"extended-by\" option found in {0}.")]
    ExtendedBy(String),
    #[error("The referenced section, '{0}', was not defined.")]
    MissingSection(String),
    #[error("Referenced option does not exist: {section} {option}")]
    MissingReferencedOption { section: String, option: String },
    #[error("Missing option: {section}:{option}")]
    MissingOption { section: String, option: String },
    #[error("Circular reference in substitutions.\n")]
    CircularReference,
    #[error("The substitution, {0},\ndoesn't contain a colon.")]
    SubstitutionNoColon(String),
    #[error("The substitution, {0},\nhas too many colons.")]
    SubstitutionTooManyColons(String),
    #[error("The section name in substitution, {0},\nhas invalid characters.")]
    SubstitutionBadSection(String),
    #[error("The option name in substitution, {0},\nhas invalid characters.")]
    SubstitutionBadOption(String),
    #[error("Infinite extending loop '{0}'")]
    MacroLoop(String),
    #[error("No section named '{0}'")]
    MacroMissing(String),
    #[error("Invalid value for '{name}' option: '{value}'")]
    InvalidBool { name: String, value: String },
    #[error("Invalid logging level {0}")]
    InvalidLogLevel(String),
    #[error(
        "Setting \"{name}\" to a non absolute location (\"{value}\") within a\nremote configuration file (\"{source_url}\") is ambiguous."
    )]
    AmbiguousRemoteDirectory { name: String, value: String, source_url: String },
    #[error("versions = {0}, but there is no [{0}] section")]
    MissingVersionsSection(String),
    #[error("{0}")]
    Other(String),
}

/// A configuration error plus the chain of activities (`While:`) that led to it,
/// outermost first, mirroring Buildout's `__doing__` stack.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub kind: ConfigErrorKind,
    pub doing: Vec<String>,
}

impl ConfigError {
    pub fn new(kind: ConfigErrorKind) -> Self {
        ConfigError { kind, doing: Vec::new() }
    }

    pub fn with_doing(kind: ConfigErrorKind, doing: &[String]) -> Self {
        ConfigError {
            kind,
            doing: doing.to_vec(),
        }
    }

    /// Buildout's two-part report: the `While:` stack, then the message.
    pub fn report(&self) -> String {
        let mut out = String::new();
        if !self.doing.is_empty() {
            out.push_str("While:\n");
            for d in &self.doing {
                out.push_str("  ");
                out.push_str(d);
                out.push('\n');
            }
        }
        out.push_str("error: ");
        out.push_str(&self.kind.to_string());
        out
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

impl std::error::Error for ConfigError {}

impl From<ConfigErrorKind> for ConfigError {
    fn from(kind: ConfigErrorKind) -> Self {
        ConfigError::new(kind)
    }
}

fn render_bad_lines(file: &str, lines: &[BadLine]) -> String {
    lines.iter().map(|l| format!("\n  {file}:{}: {:?}", l.line, l.text)).collect()
}

fn render_stack(stack: &[String]) -> String {
    let items: Vec<String> = stack.iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", items.join(", "))
}
