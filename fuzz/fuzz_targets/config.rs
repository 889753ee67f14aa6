//! Fuzzes the configuration language end to end on one in-memory file: parsing
//! (conditions included), merging into layers, and evaluating every section with
//! macros and substitution. Any panic or hang is a bug; errors are fine.
#![no_main]

use bo::config::condition::{self, TargetEnv};
use bo::config::eval::{Evaluator, RawConfig};
use bo::config::layers::{self, Layer};
use bo::config::parser;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let env = TargetEnv::native();
    let mut cond = |expr: &str| condition::evaluate(expr, &env);
    let Ok(parsed) = parser::parse(text, "fuzz.cfg", &mut cond) else { return };
    let layer = layers::update(&Layer::new(), &layers::annotate_parsed(parsed, "fuzz.cfg"));
    let raw: RawConfig = layer
        .iter()
        .map(|(name, section)| (name.clone(), section.iter().map(|(k, v)| (k.clone(), v.value.clone())).collect()))
        .collect();
    let mut ev = Evaluator::new(&raw);
    for name in raw.keys() {
        if ev.section(name).is_ok() {
            let _ = ev.options(name);
        }
    }
});
