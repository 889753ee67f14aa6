//! `sandbox-probe`: tries one thing a recipe should not be able to do, chosen by the
//! `attack` option, and reports the sandbox's answer as its error. The denial tests
//! run it against every kind of escape; each must fail closed.

use bo_recipe_sdk::{Manifest, Options, Recipe, Run, config_get, download, export_recipe, log};

struct Probe;

fn part_dir(part: &str) -> Result<String, String> {
    Ok(format!("{}/{part}", config_get("buildout", "parts-directory").ok_or("no parts-directory")?))
}

impl Recipe for Probe {
    fn describe() -> Manifest {
        Manifest::new("sandbox-probe", "Tries to escape the sandbox (for bo's denial tests)")
            .writes(&["bin"])
            .hosts(&["127.0.0.1"])
            .programs(&["true"])
            .env(&["BO_PROBE_VISIBLE"])
    }

    fn install(part: &str, options: &Options) -> Result<Vec<String>, String> {
        let attack = options.get_or("attack", "none");
        let path = options.get_or("path", "");
        match attack {
            "none" => {
                let dir = part_dir(part)?;
                std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
                std::fs::write(format!("{dir}/ok.txt"), "ok").map_err(|e| e.to_string())?;
                Ok(vec![format!("{dir}/ok.txt")])
            }
            "dotdot" => {
                let target = format!("{}/../../escape.txt", part_dir(part)?);
                std::fs::write(&target, "escaped").map_err(|e| format!("write {target}: {e}"))?;
                Err("wrote outside the part".into())
            }
            "symlink" | "absolute" => {
                let text = std::fs::read_to_string(path).map_err(|e| format!("read {path}: {e}"))?;
                Err(format!("read outside the buildout: {} bytes", text.len()))
            }
            "write-outside" => {
                std::fs::write(path, "escaped").map_err(|e| format!("write {path}: {e}"))?;
                Err("wrote outside the buildout".into())
            }
            "home" => {
                let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
                let target = format!("{home}/.bashrc");
                let text = std::fs::read_to_string(&target).map_err(|e| format!("read {target}: {e}"))?;
                Err(format!("read the user's home: {} bytes", text.len()))
            }
            "env" => {
                let var = options.get_or("var", "HOME");
                match std::env::var(var) {
                    Ok(value) => Err(format!("environment variable {var} is visible: {value}")),
                    Err(_) => Err(format!("environment variable {var} not visible")),
                }
            }
            "host" => download(options.get_or("url", "http://example.com/x"), None, None).map(|p| vec![p]),
            "program" => Run::new(options.get_or("program", "sh")).arg("-c").arg("echo hi").output().map(|_| Vec::new()),
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "memory" => {
                let mb: usize = options.get_or("mb", "4096").parse().map_err(|_| "bad mb")?;
                let mut blocks = Vec::new();
                for _ in 0..mb {
                    blocks.push(vec![1u8; 1 << 20]);
                }
                Err(format!("allocated {} MiB", blocks.len()))
            }
            "logflood" => {
                let line = "x".repeat(1024);
                for _ in 0..10_000_000 {
                    log::info(&line);
                }
                Err("flooded the log".into())
            }
            "stdout-flood" => {
                let line = "y".repeat(1024);
                for _ in 0..1_000_000 {
                    println!("{line}");
                }
                Ok(Vec::new())
            }
            "outside-path" => Ok(vec![path.to_string()]),
            // Not an attack: waits like a part that downloads or builds (benchmarks).
            "sleep" => {
                let ms: u64 = options.get_or("ms", "1000").parse().map_err(|_| "bad ms")?;
                std::thread::sleep(std::time::Duration::from_millis(ms));
                Ok(Vec::new())
            }
            "write-bin" => {
                let bin = config_get("buildout", "bin-directory").ok_or("no bin-directory")?;
                std::fs::write(format!("{bin}/probe"), "#!/bin/sh\n").map_err(|e| e.to_string())?;
                Ok(vec![format!("{bin}/probe")])
            }
            // Not an attack: leaves a file in the shared bin/ and fails after a
            // while (for the parallel-failure test).
            "write-bin-fail" => {
                let bin = config_get("buildout", "bin-directory").ok_or("no bin-directory")?;
                std::fs::write(format!("{bin}/{part}-leftover"), "").map_err(|e| e.to_string())?;
                std::thread::sleep(std::time::Duration::from_millis(200));
                Err("failed after writing to bin".into())
            }
            // Host services asked to write outside through `..` or a planted link.
            "copy-dotdot" => {
                let source = format!("{}/buildout.cfg", config_get("buildout", "directory").unwrap_or_default());
                let target = format!("{}/../../escape.txt", part_dir(part)?);
                bo_recipe_sdk::copy_file(&source, &target).map(|_| Vec::new())
            }
            "setmode-link" => bo_recipe_sdk::set_mode(path, 0o777).map(|_| Vec::new()),
            // Asks the host, `count` times, to copy into `path` and chmod it while
            // something swaps a directory on the way for a link (the race test).
            "copy-loop" => {
                let source = format!("{}/buildout.cfg", config_get("buildout", "directory").unwrap_or_default());
                let count: u32 = options.get_or("count", "1000").parse().map_err(|_| "bad count")?;
                let mut copied = 0;
                for _ in 0..count {
                    if bo_recipe_sdk::copy_file(&source, path).is_ok() {
                        copied += 1;
                    }
                    let _ = bo_recipe_sdk::set_mode(path, 0o777);
                }
                log::info(&format!("copied {copied} of {count}"));
                Ok(Vec::new())
            }
            other => Err(format!("unknown attack {other:?}")),
        }
    }
}

export_recipe!(Probe);
