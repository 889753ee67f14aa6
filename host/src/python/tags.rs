//! Which wheels an interpreter can use (PEP 425 tags), and how much it prefers each:
//! a wheel built for this exact interpreter and platform beats an `abi3` one, which
//! beats a pure-Python `py3-none-any` one, as in pip and uv.

use crate::config::condition::TargetEnv;

/// A wheel filename's parts: `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelName {
    pub name: String,
    pub version: String,
    pub python: Vec<String>,
    pub abi: Vec<String>,
    pub platform: Vec<String>,
}

impl WheelName {
    pub fn parse(filename: &str) -> Option<WheelName> {
        let stem = filename.strip_suffix(".whl")?;
        let parts: Vec<&str> = stem.split('-').collect();
        if parts.len() != 5 && parts.len() != 6 {
            return None;
        }
        let n = parts.len();
        let split = |s: &str| s.split('.').map(String::from).collect::<Vec<_>>();
        Some(WheelName {
            name: parts[0].to_string(),
            version: parts[1].to_string(),
            python: split(parts[n - 3]),
            abi: split(parts[n - 2]),
            platform: split(parts[n - 1]),
        })
    }
}

/// The interpreter's compatible tags, most preferred first.
#[derive(Debug, Clone)]
pub struct Tags {
    ranked: Vec<(String, String, String)>,
}

impl Tags {
    pub fn for_interpreter(env: &TargetEnv) -> Tags {
        let (major, minor, _) = env.python_version;
        let implementation = if env.implementation == "PyPy" { "pp" } else { "cp" };
        let interp = format!("{implementation}{major}{minor}");
        let arch = env.platform_machine.clone();
        let mut platforms = Vec::new();
        if env.sys_platform.starts_with("linux") {
            if let Some((glibc_major, glibc_minor)) = env.glibc {
                for m in (0..=glibc_minor).rev() {
                    platforms.push(format!("manylinux_{glibc_major}_{m}_{arch}"));
                    match (glibc_major, m) {
                        (2, 17) => platforms.push(format!("manylinux2014_{arch}")),
                        (2, 12) => platforms.push(format!("manylinux2010_{arch}")),
                        (2, 5) => platforms.push(format!("manylinux1_{arch}")),
                        _ => {}
                    }
                }
            }
            platforms.push(format!("linux_{arch}"));
        } else if env.sys_platform == "darwin" {
            platforms.push(format!("macosx_11_0_{arch}"));
            platforms.push("macosx_10_9_universal2".into());
        } else if env.sys_platform == "win32" {
            platforms.push("win_amd64".into());
        }
        let mut ranked = Vec::new();
        for platform in &platforms {
            ranked.push((interp.clone(), interp.clone(), platform.clone()));
        }
        for m in (2..=minor).rev() {
            for platform in &platforms {
                ranked.push((format!("{implementation}{major}{m}"), "abi3".into(), platform.clone()));
            }
        }
        for platform in &platforms {
            ranked.push((interp.clone(), "none".into(), platform.clone()));
        }
        for py in [format!("py{major}{minor}"), format!("py{major}")] {
            for platform in &platforms {
                ranked.push((py.clone(), "none".into(), platform.clone()));
            }
        }
        ranked.push((interp.clone(), "none".into(), "any".into()));
        ranked.push((format!("py{major}{minor}"), "none".into(), "any".into()));
        ranked.push((format!("py{major}"), "none".into(), "any".into()));
        for m in (0..minor).rev() {
            ranked.push((format!("py{major}{m}"), "none".into(), "any".into()));
        }
        Tags { ranked }
    }

    /// The wheel's rank (lower is better), or `None` if it does not fit.
    pub fn rank(&self, wheel: &WheelName) -> Option<usize> {
        let mut best: Option<usize> = None;
        for p in &wheel.python {
            for a in &wheel.abi {
                for pl in &wheel.platform {
                    if let Some(i) = self.ranked.iter().position(|(x, y, z)| x == p && y == a && z == pl) {
                        best = Some(best.map_or(i, |b| b.min(i)));
                    }
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_specific_before_pure() {
        let mut env = TargetEnv::native();
        env.python_version = (3, 11, 7);
        env.sys_platform = "linux".into();
        env.platform_machine = "x86_64".into();
        env.glibc = Some((2, 36));
        let tags = Tags::for_interpreter(&env);
        let pure = WheelName::parse("six-1.17.0-py2.py3-none-any.whl").unwrap();
        let native = WheelName::parse("x-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl").unwrap();
        let abi3 = WheelName::parse("x-1.0-cp38-abi3-manylinux_2_28_x86_64.whl").unwrap();
        let other = WheelName::parse("x-1.0-cp312-cp312-manylinux_2_17_x86_64.whl").unwrap();
        assert!(tags.rank(&native).unwrap() < tags.rank(&abi3).unwrap());
        assert!(tags.rank(&abi3).unwrap() < tags.rank(&pure).unwrap());
        assert_eq!(tags.rank(&other), None);
    }
}
