//! Conditional section headers, `[name:expression]`. Buildout first reads the
//! expression as a PEP 508 marker; if that fails it `eval`s it as Python with a fixed
//! set of globals. bo cannot run Python, so it evaluates the subset that configs use:
//! literals, `and`/`or`/`not`, comparisons (chained, `in`, `is`), arithmetic, tuples,
//! subscripts, the names Buildout predefines (`python3`, `linux`, `bits64`, ...) and
//! the attributes of `sys`, `os` and `platform` that describe the target, `os.path`
//! queries and `os.access` on the host's file system, and common string methods
//! (`startswith`, `endswith`, `lower`, `upper`, `strip`, `split`). Anything else is a
//! clear error naming the unsupported piece.

use std::collections::HashMap;
use std::str::FromStr;

use pep508_rs::MarkerTree;

use builtins::{os_call, os_release, string_method};
use lexer::{Token, tokenize};
use value::{Eval, Value, compare, int_op, slice, subscript};

mod builtins;
mod comprehension;
mod lexer;
mod value;

pub use super::target::TargetEnv;

/// Evaluates one header condition the way Buildout does: marker first, then Python.
pub fn evaluate(expression: &str, env: &TargetEnv) -> Result<bool, String> {
    // pep508_rs 0.9 can panic on non-ASCII input (a byte index inside a character,
    // found by fuzzing); markers are ASCII apart from string values, so such
    // expressions go to the Python evaluator, which handles them.
    // pep508_rs parses parentheses recursively: bound the nesting it is given.
    let mut depth = 0usize;
    let too_deep = expression.chars().any(|c| {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        depth > MAX_NESTING
    });
    if expression.is_ascii()
        && !too_deep
        && let Ok(marker) = <MarkerTree as FromStr>::from_str(expression)
        && let Some(menv) = env.marker_environment()
    {
        return Ok(marker.evaluate(&menv, &[]));
    }
    let tokens = tokenize(expression)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        env,
        globals: globals(env),
        depth: 0,
        skipping: 0,
    };
    let value = parser.expression_list()?;
    if parser.pos != parser.tokens.len() {
        return Err(format!("unexpected {:?} in expression", parser.tokens[parser.pos]));
    }
    Ok(value.truthy())
}

fn globals(env: &TargetEnv) -> HashMap<String, Value> {
    let (major, minor, _) = env.python_version;
    let mut g = HashMap::new();
    g.insert("python2".into(), Value::Bool(major == 2));
    g.insert("python3".into(), Value::Bool(major == 3));
    for v in [
        "24", "25", "26", "27", "30", "31", "32", "33", "34", "35", "36", "37", "38", "39", "310", "311", "312", "313", "314", "315",
        "316", "317", "318", "319",
    ] {
        g.insert(format!("python{v}"), Value::Bool(format!("{major}{minor}") == v));
    }
    let implementation = env.implementation.to_lowercase();
    let pypy = implementation.contains("pypy");
    let jython = implementation.contains("jython");
    let ironpython = implementation.contains("iron");
    g.insert("cpython".into(), Value::Bool(!(pypy || jython || ironpython)));
    g.insert("pypy".into(), Value::Bool(pypy));
    g.insert("jython".into(), Value::Bool(jython));
    g.insert("ironpython".into(), Value::Bool(ironpython));
    let p = env.sys_platform.to_lowercase();
    g.insert("linux".into(), Value::Bool(p.contains("linux")));
    g.insert("windows".into(), Value::Bool(p.contains("win32")));
    g.insert("cygwin".into(), Value::Bool(p.contains("cygwin")));
    g.insert("solaris".into(), Value::Bool(p.contains("sunos")));
    g.insert("macosx".into(), Value::Bool(p.contains("darwin")));
    g.insert("posix".into(), Value::Bool(env.os_name.to_lowercase().contains("posix")));
    g.insert("bits32".into(), Value::Bool(env.pointer_bits == 32));
    g.insert("bits64".into(), Value::Bool(env.pointer_bits == 64));
    g.insert("little_endian".into(), Value::Bool(env.little_endian));
    g.insert("big_endian".into(), Value::Bool(!env.little_endian));
    g.insert("True".into(), Value::Bool(true));
    g.insert("False".into(), Value::Bool(false));
    g.insert("None".into(), Value::None);
    for module in ["sys", "os", "platform", "re"] {
        g.insert(module.into(), Value::Module(module.into()));
    }
    for builtin in ["chr", "ord", "str", "int", "len", "bool"] {
        g.insert(builtin.into(), Value::Function(builtin.into()));
    }
    g
}

struct Parser<'e> {
    tokens: Vec<Token>,
    pos: usize,
    env: &'e TargetEnv,
    globals: HashMap<String, Value>,
    /// Inside how many operands that Python would not evaluate (short-circuit).
    skipping: usize,
    /// Nesting so far: parentheses, `not`, unary minus (bounded, so a hostile
    /// header cannot overflow the stack).
    depth: usize,
}

/// Deepest nesting a condition may have.
const MAX_NESTING: usize = 32;

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }
    fn eat_op(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some(Token::Op(o)) if *o == op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn eat_name(&mut self, name: &str) -> bool {
        if matches!(self.peek(), Some(Token::Name(n)) if n == name) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect_op(&mut self, op: &str) -> Result<(), String> {
        if self.eat_op(op) { Ok(()) } else { Err(format!("expected '{op}'")) }
    }

    /// `a, b` at the top level builds a tuple, as in Python.
    fn expression_list(&mut self) -> Eval {
        let first = self.or_test()?;
        if !self.eat_op(",") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.peek().is_some() && !matches!(self.peek(), Some(Token::Op(")" | "]"))) {
            items.push(self.or_test()?);
            if !self.eat_op(",") {
                break;
            }
        }
        Ok(Value::Tuple(items))
    }

    fn nested(&mut self, f: impl FnOnce(&mut Self) -> Eval) -> Eval {
        if self.depth >= MAX_NESTING {
            return Err(format!("expression nested more than {MAX_NESTING} levels deep"));
        }
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        result
    }

    fn or_test(&mut self) -> Eval {
        self.nested(Self::or_test_inner)
    }

    fn or_test_inner(&mut self) -> Eval {
        let mut left = self.and_test()?;
        while self.eat_name("or") {
            // Python never evaluates the right side once the left is true.
            let skip = left.truthy();
            let right = self.skipping_if(skip, Self::and_test)?;
            if !skip {
                left = right;
            }
        }
        Ok(left)
    }
    fn and_test(&mut self) -> Eval {
        let mut left = self.not_test()?;
        while self.eat_name("and") {
            let skip = !left.truthy();
            let right = self.skipping_if(skip, Self::not_test)?;
            if !skip {
                left = right;
            }
        }
        Ok(left)
    }
    /// Parses an operand that Python would not evaluate: syntax must still be
    /// right, but what it would do (unknown names, unsupported calls) is ignored.
    fn skipping_if(&mut self, skip: bool, f: impl FnOnce(&mut Self) -> Eval) -> Eval {
        self.skipping += skip as usize;
        let result = f(self);
        self.skipping -= skip as usize;
        result
    }
    /// An evaluation result, softened to `None` inside an operand being skipped.
    fn soft(&self, result: Eval) -> Eval {
        if self.skipping > 0 {
            Ok(result.unwrap_or(Value::None))
        } else {
            result
        }
    }
    fn not_test(&mut self) -> Eval {
        if self.eat_name("not") {
            return Ok(Value::Bool(!self.nested(Self::not_test)?.truthy()));
        }
        self.comparison()
    }
    fn comparison(&mut self) -> Eval {
        let mut left = self.arith()?;
        let mut result = true;
        let mut compared = false;
        loop {
            let op = match self.peek() {
                Some(Token::Op(o @ ("==" | "!=" | "<" | ">" | "<=" | ">="))) => o.to_string(),
                Some(Token::Name(n)) if n == "in" => "in".into(),
                Some(Token::Name(n)) if n == "is" => "is".into(),
                Some(Token::Name(n)) if n == "not" => "not".into(),
                _ => break,
            };
            self.pos += 1;
            let op = match op.as_str() {
                "not" if self.eat_name("in") => "not in".to_string(),
                "not" => return Err("expected 'in' after 'not'".into()),
                "is" if self.eat_name("not") => "is not".to_string(),
                _ => op,
            };
            let right = self.arith()?;
            result = result && self.soft(compare(&op, &left, &right).map(Value::Bool))?.truthy();
            compared = true;
            left = right;
        }
        if compared { Ok(Value::Bool(result)) } else { Ok(left) }
    }
    fn arith(&mut self) -> Eval {
        let mut left = self.term()?;
        loop {
            if self.eat_op("+") {
                let right = self.term()?;
                left = match (&left, &right) {
                    (Value::Str(a), Value::Str(b)) => Value::Str(format!("{a}{b}")),
                    (Value::Tuple(a), Value::Tuple(b)) => Value::Tuple([a.clone(), b.clone()].concat()),
                    _ => Value::Int(int_op(&left, &right, i64::checked_add)?),
                };
            } else if self.eat_op("-") {
                let right = self.term()?;
                left = Value::Int(int_op(&left, &right, i64::checked_sub)?);
            } else {
                return Ok(left);
            }
        }
    }
    fn term(&mut self) -> Eval {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek() {
                Some(Token::Op(o @ ("*" | "%" | "//"))) => *o,
                _ => return Ok(left),
            };
            self.pos += 1;
            let right = self.unary()?;
            left = Value::Int(match op {
                "*" => int_op(&left, &right, i64::checked_mul)?,
                "%" => int_op(&left, &right, i64::checked_rem_euclid)?,
                _ => int_op(&left, &right, i64::checked_div_euclid)?,
            });
        }
    }
    fn unary(&mut self) -> Eval {
        if self.eat_op("-") {
            let v = self.nested(Self::unary)?;
            return Ok(Value::Int(-v.as_int().ok_or("bad operand type for unary -")?));
        }
        if self.eat_op("+") {
            return self.nested(Self::unary);
        }
        self.power()
    }
    fn power(&mut self) -> Eval {
        let base = self.primary()?;
        if self.eat_op("**") {
            let exponent = self.unary()?;
            let e = exponent.as_int().ok_or("bad exponent")?;
            let b = base.as_int().ok_or("bad operand for **")?;
            return b.checked_pow(e as u32).map(Value::Int).ok_or_else(|| "integer overflow".into());
        }
        Ok(base)
    }
    fn primary(&mut self) -> Eval {
        let mut value = self.atom()?;
        loop {
            if self.eat_op(".") {
                let Some(Token::Name(attr)) = self.peek().cloned() else {
                    return Err("expected a name after '.'".into());
                };
                self.pos += 1;
                value = self.soft(self.attribute(&value, &attr))?;
            } else if self.eat_op("(") {
                let mut args = Vec::new();
                while !self.eat_op(")") {
                    args.push(self.or_test()?);
                    if !self.eat_op(",") {
                        self.expect_op(")")?;
                        break;
                    }
                }
                value = self.soft(self.call(&value, &args))?;
            } else if self.eat_op("[") {
                // `a[i]`, or a slice `a[start:stop]` (either may be left out).
                let start = if matches!(self.peek(), Some(Token::Op(":"))) {
                    None
                } else {
                    Some(self.or_test()?)
                };
                if self.eat_op(":") {
                    let stop = if matches!(self.peek(), Some(Token::Op("]"))) {
                        None
                    } else {
                        Some(self.or_test()?)
                    };
                    self.expect_op("]")?;
                    value = self.soft(slice(&value, start.as_ref(), stop.as_ref()))?;
                } else {
                    self.expect_op("]")?;
                    let index = start.ok_or("expected an index")?;
                    value = self.soft(subscript(&value, &index))?;
                }
            } else {
                return Ok(value);
            }
        }
    }
    fn atom(&mut self) -> Eval {
        let token = self.peek().cloned().ok_or("unexpected end of expression")?;
        self.pos += 1;
        match token {
            Token::Int(i) => Ok(Value::Int(i)),
            Token::Str(mut s) => {
                // Adjacent string literals concatenate.
                while let Some(Token::Str(next)) = self.peek().cloned() {
                    s.push_str(&next);
                    self.pos += 1;
                }
                Ok(Value::Str(s))
            }
            Token::Name(name) => {
                let found = self
                    .globals
                    .get(&name)
                    .cloned()
                    .ok_or_else(|| format!("name '{name}' is not defined"));
                self.soft(found)
            }
            Token::Op("[") if self.comprehension_ahead() => self.comprehension(),
            Token::Op("(") | Token::Op("[") => {
                let close = if token == Token::Op("(") { ")" } else { "]" };
                if self.eat_op(close) {
                    return Ok(Value::Tuple(Vec::new()));
                }
                let first = self.or_test()?;
                if self.eat_op(close) {
                    return Ok(if close == ")" { first } else { Value::Tuple(vec![first]) });
                }
                let mut items = vec![first];
                while self.eat_op(",") {
                    if self.eat_op(close) {
                        return Ok(Value::Tuple(items));
                    }
                    items.push(self.or_test()?);
                }
                self.expect_op(close)?;
                Ok(Value::Tuple(items))
            }
            Token::Op(op) => Err(format!("unexpected '{op}'")),
        }
    }

    fn attribute(&self, value: &Value, attr: &str) -> Eval {
        let env = self.env;
        let (major, minor, micro) = env.python_version;
        if let Value::Str(receiver) = value {
            const METHODS: &[&str] = &["startswith", "endswith", "lower", "upper", "strip", "lstrip", "rstrip", "split"];
            return if METHODS.contains(&attr) {
                Ok(Value::Method(attr.to_string(), receiver.clone()))
            } else {
                Err(format!("str.{attr} is not supported in section conditions by bo"))
            };
        }
        let Value::Module(module) = value else {
            return Err(format!(
                "'{}' object has no attribute '{attr}' (not supported by bo)",
                value.type_name()
            ));
        };
        let s = |v: &str| Ok(Value::Str(v.to_string()));
        match (module.as_str(), attr) {
            ("sys", "platform") => s(&env.sys_platform),
            ("sys", "version") => s(&format!("{major}.{minor}.{micro}")),
            ("sys", "version_info") => Ok(Value::Tuple(vec![
                Value::Int(major as i64),
                Value::Int(minor as i64),
                Value::Int(micro as i64),
            ])),
            ("sys", "maxsize") => Ok(Value::Int(if env.pointer_bits == 64 { i64::MAX } else { i32::MAX as i64 })),
            ("sys", "byteorder") => s(if env.little_endian { "little" } else { "big" }),
            ("os", "name") => s(&env.os_name),
            ("os", "path") => Ok(Value::Module("os.path".into())),
            ("os", "access") => Ok(Value::Function("os.access".into())),
            ("os", "F_OK") => Ok(Value::Int(0)),
            ("os", "X_OK") => Ok(Value::Int(1)),
            ("os", "W_OK") => Ok(Value::Int(2)),
            ("os", "R_OK") => Ok(Value::Int(4)),
            ("os.path", f @ ("exists" | "isdir" | "isfile" | "islink" | "join" | "basename" | "dirname")) => {
                Ok(Value::Function(format!("os.path.{f}")))
            }
            ("os", "sep") => s(if env.os_name == "nt" { "\\" } else { "/" }),
            (
                "platform",
                f @ ("system" | "machine" | "python_version" | "python_implementation" | "release" | "freedesktop_os_release"),
            ) => Ok(Value::Function(format!("platform.{f}"))),
            _ => Err(format!("{module}.{attr} is not supported in section conditions by bo")),
        }
    }

    fn call(&self, function: &Value, args: &[Value]) -> Eval {
        let env = self.env;
        if let Value::Method(method, receiver) = function {
            return string_method(method, receiver, args);
        }
        let Value::Function(name) = function else {
            return Err(format!("'{}' object is not callable", function.type_name()));
        };
        let (major, minor, micro) = env.python_version;
        let one = || args.first().ok_or_else(|| format!("{name}() takes one argument"));
        match name.as_str() {
            "platform.system" => Ok(Value::Str(env.platform_system.clone())),
            "platform.machine" => Ok(Value::Str(env.platform_machine.clone())),
            "platform.release" => Ok(Value::Str(env.platform_release.clone())),
            "platform.python_implementation" => Ok(Value::Str(env.implementation.clone())),
            "platform.python_version" => Ok(Value::Str(format!("{major}.{minor}.{micro}"))),
            "platform.freedesktop_os_release" => os_release(),
            "chr" => {
                let code = one()?.as_int().ok_or("chr() needs an integer")?;
                let c = char::from_u32(code as u32).ok_or("chr() arg not in range")?;
                Ok(Value::Str(c.to_string()))
            }
            "ord" => match one()? {
                Value::Str(s) if s.chars().count() == 1 => Ok(Value::Int(s.chars().next().unwrap() as i64)),
                _ => Err("ord() expected a character".into()),
            },
            "str" => Ok(Value::Str(match one()? {
                Value::Str(s) => s.clone(),
                Value::Int(i) => i.to_string(),
                Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
                other => return Err(format!("str() of {} is not supported by bo", other.type_name())),
            })),
            "int" => match one()? {
                Value::Str(s) => s
                    .trim()
                    .parse()
                    .map(Value::Int)
                    .map_err(|_| format!("invalid literal for int(): '{s}'")),
                v => v.as_int().map(Value::Int).ok_or_else(|| "int() argument not supported".into()),
            },
            "len" => match one()? {
                Value::Str(s) => Ok(Value::Int(s.chars().count() as i64)),
                Value::Tuple(t) => Ok(Value::Int(t.len() as i64)),
                v => Err(format!("object of type '{}' has no len()", v.type_name())),
            },
            "bool" => Ok(Value::Bool(one()?.truthy())),
            // The host's file system, as Buildout's own Python would see it (paths
            // relative to the working directory).
            f if f.starts_with("os.path.") || f == "os.access" => os_call(f, args),
            other => Err(format!("{other}() is not supported in section conditions by bo")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(expr: &str) -> Result<bool, String> {
        evaluate(expr, &TargetEnv::native())
    }

    #[test]
    fn buildout_globals_and_python_subset() {
        assert_eq!(eval("python3"), Ok(true));
        assert_eq!(eval("python2"), Ok(false));
        assert_eq!(eval(" 1 > 2"), Ok(false));
        assert_eq!(eval("'#' == chr(35)"), Ok(true));
        assert_eq!(eval("sys.version_info >= (3, 8) and not windows"), Ok(true));
        assert_eq!(eval("sys.maxsize > 2**32"), Ok(true));
        assert!(eval("undefined_name").unwrap_err().contains("undefined_name"));
    }

    #[test]
    fn os_path_and_string_methods() {
        assert_eq!(eval("os.path.isdir('/')"), Ok(true));
        assert_eq!(eval("os.path.exists('/no/such/bo/path')"), Ok(false));
        assert_eq!(eval("os.path.isfile(os.path.join('/etc', 'no-such-bo-file'))"), Ok(false));
        assert_eq!(eval("os.access('/', os.R_OK)"), Ok(true));
        assert_eq!(
            eval("sys.platform.startswith(('lin', 'dar'))"),
            Ok(cfg!(any(target_os = "linux", target_os = "macos")))
        );
        assert_eq!(eval("'A B'.lower().split()[1] == 'b'"), Ok(true));
        assert_eq!(
            eval("os.path.basename('/a/b.txt') == 'b.txt' and os.path.dirname('/a/b.txt') == '/a'"),
            Ok(true)
        );
        assert!(eval("'x'.zfill(3)").unwrap_err().contains("str.zfill is not supported"));
    }

    #[test]
    fn comprehensions_slices_and_os_release() {
        // Values recorded with CPython 3.11 (what zc.buildout 6.0.1 evaluates).
        assert_eq!(eval("[int(q) for q in '6.18.0'.split('.')[:2]] < [4, 14]"), Ok(false));
        assert_eq!(eval("[int(q) for q in '4.9.1'.split('.')[:2]] < [4, 14]"), Ok(true));
        assert_eq!(eval("[x for x in (1, 2, 3) if x > 1] == [2, 3]"), Ok(true));
        assert_eq!(
            eval("'abcdef'[1:3] == 'bc' and (1, 2, 3)[-2:] == (2, 3) and 'ab'[5:] == ''"),
            Ok(true)
        );
        assert_eq!(eval("[c for c in 'ab'] == ['a', 'b']"), Ok(true));
        let python = std::process::Command::new("python3")
            .args([
                "-c",
                "import platform; r = platform.freedesktop_os_release(); print(r['ID'], r.get('VERSION_ID', ''))",
            ])
            .output();
        if let Some(out) = python.ok().filter(|o| o.status.success()) {
            let text = String::from_utf8_lossy(&out.stdout);
            let mut words = text.split_whitespace();
            let id = words.next().unwrap_or_default();
            assert_eq!(eval(&format!("platform.freedesktop_os_release()['ID'] == '{id}'")), Ok(true));
        }
    }

    #[test]
    fn short_circuit_like_python() {
        // Found in real-world configs (SlapOS): the right side is never evaluated.
        assert_eq!(eval("python2 and os.path.isdir('/nonexistent')"), Ok(false));
        assert_eq!(eval("python3 or undefined_name"), Ok(true));
        assert!(eval("python3 and undefined_name").is_err());
        assert!(eval("python2 and (").is_err(), "syntax is still checked");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(eval(&deep).unwrap_err().contains("nested"));
        assert!(eval(&"not ".repeat(10_000)).unwrap_err().contains("nested"));
        assert!(eval(&format!("{}1", "-".repeat(10_000))).unwrap_err().contains("nested"));
    }

    #[test]
    fn non_ascii_does_not_panic() {
        let expr = " 'linux' in sys.platform or 'dwi@n' in sys.platform \u{6a5} 'win' in sys.1ironform";
        assert!(eval(expr).is_err());
        assert_eq!(eval("'é' == 'é'"), Ok(true));
    }

    #[test]
    fn markers_first() {
        assert_eq!(eval("python_version >= \"3\""), Ok(true));
        assert_eq!(eval("sys_platform == 'win32'"), Ok(false));
        assert_eq!(eval("'linux' in sys.platform"), Ok(cfg!(target_os = "linux")));
    }
}
