//! List comprehensions in section conditions (`[int(q) for q in
//! platform.release().split(".")[:2]]`, as SlapOS writes them): the element and
//! the condition are read once to find where they end, then evaluated for each
//! item with the loop variable bound.

use super::Parser;
use super::lexer::Token;
use super::value::{Eval, Value};

impl Parser<'_> {
    /// Whether the bracket just opened holds a comprehension (a `for` at its
    /// own level before it closes).
    pub(super) fn comprehension_ahead(&self) -> bool {
        let mut depth = 0usize;
        for token in &self.tokens[self.pos..] {
            match token {
                Token::Op("(" | "[") => depth += 1,
                Token::Op(")" | "]") if depth == 0 => return false,
                Token::Op(")" | "]") => depth -= 1,
                Token::Name(n) if n == "for" && depth == 0 => return true,
                _ => {}
            }
        }
        false
    }

    /// `[element for name in iterable if condition]` (the `[` eaten): the element
    /// and the condition are read once to find where they end, then evaluated
    /// for each item with `name` bound.
    pub(super) fn comprehension(&mut self) -> Eval {
        let element_at = self.pos;
        self.skipping_if(true, Self::or_test)?;
        if !self.eat_name("for") {
            return Err("expected 'for'".into());
        }
        let Some(Token::Name(target)) = self.peek().cloned() else {
            return Err("expected a name after 'for'".into());
        };
        self.pos += 1;
        if !self.eat_name("in") {
            return Err("expected 'in'".into());
        }
        let iterable = self.or_test()?;
        let condition_at = if self.eat_name("if") {
            let at = self.pos;
            self.skipping_if(true, Self::or_test)?;
            Some(at)
        } else {
            None
        };
        self.expect_op("]")?;
        let end = self.pos;
        if self.skipping > 0 {
            return Ok(Value::None);
        }
        let items: Vec<Value> = match iterable {
            Value::Tuple(items) => items,
            Value::Str(s) => s.chars().map(|c| Value::Str(c.to_string())).collect(),
            other => return Err(format!("'{}' object is not iterable", other.type_name())),
        };
        let saved = self.globals.get(&target).cloned();
        let mut out = Vec::new();
        let mut result = Ok(());
        for item in items {
            self.globals.insert(target.clone(), item);
            if let Some(at) = condition_at {
                self.pos = at;
                match self.or_test() {
                    Ok(keep) if !keep.truthy() => continue,
                    Ok(_) => {}
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
            self.pos = element_at;
            match self.or_test() {
                Ok(value) => out.push(value),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        match saved {
            Some(value) => self.globals.insert(target, value),
            None => self.globals.remove(&target),
        };
        self.pos = end;
        result.map(|_| Value::Tuple(out))
    }
}
