//! Values of the Python-expression subset and Python's rules for them: truth,
//! arithmetic, subscripts, ordering and comparisons.

pub(super) type Eval = Result<Value, String>;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    None,
    Bool(bool),
    Int(i64),
    Str(String),
    Tuple(Vec<Value>),
    Module(String),
    Function(String),
    /// A string method bound to its string (`'abc'.startswith`).
    Method(String, String),
    /// A mapping of strings (`platform.freedesktop_os_release()`).
    Dict(Vec<(String, String)>),
}

impl Value {
    pub(super) fn truthy(&self) -> bool {
        match self {
            Value::None => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Str(s) => !s.is_empty(),
            Value::Tuple(t) => !t.is_empty(),
            Value::Dict(d) => !d.is_empty(),
            Value::Module(_) | Value::Function(_) | Value::Method(..) => true,
        }
    }
    pub(super) fn as_int(&self) -> Option<i64> {
        match self {
            Value::Bool(b) => Some(*b as i64),
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
    pub(super) fn type_name(&self) -> &'static str {
        match self {
            Value::None => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Str(_) => "str",
            Value::Tuple(_) => "tuple",
            Value::Dict(_) => "dict",
            Value::Module(_) => "module",
            Value::Function(_) => "function",
            Value::Method(..) => "builtin_function_or_method",
        }
    }
}

pub(super) fn int_op(a: &Value, b: &Value, f: fn(i64, i64) -> Option<i64>) -> Result<i64, String> {
    let (x, y) = (a.as_int(), b.as_int());
    match (x, y) {
        (Some(x), Some(y)) => f(x, y).ok_or_else(|| "arithmetic error".into()),
        _ => Err(format!("unsupported operand types: '{}' and '{}'", a.type_name(), b.type_name())),
    }
}

pub(super) fn subscript(value: &Value, index: &Value) -> Eval {
    if let (Value::Dict(entries), Value::Str(key)) = (value, index) {
        return entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| Value::Str(v.clone()))
            .ok_or_else(|| format!("KeyError: '{key}'"));
    }
    let i = index.as_int().ok_or("indices must be integers")?;
    let pick = |len: usize| -> Result<usize, String> {
        let idx = if i < 0 { len as i64 + i } else { i };
        if idx < 0 || idx as usize >= len {
            Err("index out of range".into())
        } else {
            Ok(idx as usize)
        }
    };
    match value {
        Value::Tuple(t) => Ok(t[pick(t.len())?].clone()),
        Value::Str(s) => {
            let chars: Vec<char> = s.chars().collect();
            Ok(Value::Str(chars[pick(chars.len())?].to_string()))
        }
        other => Err(format!("'{}' object is not subscriptable", other.type_name())),
    }
}

fn order(a: &Value, b: &Value) -> Result<std::cmp::Ordering, String> {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Ok(x.cmp(y)),
        (Value::Tuple(x), Value::Tuple(y)) => {
            for (p, q) in x.iter().zip(y) {
                let o = order(p, q)?;
                if o != std::cmp::Ordering::Equal {
                    return Ok(o);
                }
            }
            Ok(x.len().cmp(&y.len()))
        }
        _ => match (a.as_int(), b.as_int()) {
            (Some(x), Some(y)) => Ok(x.cmp(&y)),
            _ => Err(format!(
                "'<' not supported between instances of '{}' and '{}'",
                a.type_name(),
                b.type_name()
            )),
        },
    }
}

fn equal(a: &Value, b: &Value) -> bool {
    match (a.as_int(), b.as_int()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

pub(super) fn compare(op: &str, a: &Value, b: &Value) -> Result<bool, String> {
    use std::cmp::Ordering::*;
    Ok(match op {
        "==" => equal(a, b),
        "!=" => !equal(a, b),
        "is" => a == b,
        "is not" => a != b,
        "<" => order(a, b)? == Less,
        ">" => order(a, b)? == Greater,
        "<=" => order(a, b)? != Greater,
        ">=" => order(a, b)? != Less,
        "in" | "not in" => {
            let found = match (a, b) {
                (Value::Str(needle), Value::Str(hay)) => hay.contains(needle.as_str()),
                (_, Value::Tuple(items)) => items.iter().any(|item| equal(item, a)),
                _ => return Err(format!("argument of type '{}' is not iterable", b.type_name())),
            };
            found == (op == "in")
        }
        _ => unreachable!("comparison operator {op}"),
    })
}

/// `value[start:stop]` for tuples (lists) and strings, with Python's clamping of
/// out-of-range and negative bounds.
pub(super) fn slice(value: &Value, start: Option<&Value>, stop: Option<&Value>) -> Eval {
    let bound = |v: Option<&Value>, len: usize, default: usize| -> Result<usize, String> {
        match v {
            None | Some(Value::None) => Ok(default),
            Some(v) => {
                let i = v.as_int().ok_or("slice indices must be integers")?;
                let i = if i < 0 { len as i64 + i } else { i };
                Ok(i.clamp(0, len as i64) as usize)
            }
        }
    };
    match value {
        Value::Tuple(t) => {
            let (a, b) = (bound(start, t.len(), 0)?, bound(stop, t.len(), t.len())?);
            Ok(Value::Tuple(if a < b { t[a..b].to_vec() } else { Vec::new() }))
        }
        Value::Str(s) => {
            let chars: Vec<char> = s.chars().collect();
            let (a, b) = (bound(start, chars.len(), 0)?, bound(stop, chars.len(), chars.len())?);
            Ok(Value::Str(if a < b { chars[a..b].iter().collect() } else { String::new() }))
        }
        other => Err(format!("'{}' object is not subscriptable", other.type_name())),
    }
}
