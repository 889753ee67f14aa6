"""Times bo beside zc.buildout and uv on the same scenarios, alternating runs, and
prints medians, ratios and peak memory. Run through bench/run.sh, which prepares the
peers and builds bo. No scenario asserts a time: the figures go to BENCHMARKS.md."""

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time


def run(cmd, cwd, env):
    """One run: wall seconds and peak RSS (KiB) of the process tree's largest child."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"command failed: {' '.join(cmd)} in {cwd}\n{err}")
    return elapsed, usage.ru_maxrss


def measure(contenders, rounds, prepare=None):
    """Runs each contender `rounds` times, alternating; returns name -> (median s, max KiB)."""
    times = {name: [] for name in contenders}
    peaks = {name: 0 for name in contenders}
    for _ in range(rounds):
        for name, (cmd, cwd, env) in contenders.items():
            if prepare:
                prepare(name)
            t, rss = run(cmd, cwd, env)
            times[name].append(t)
            peaks[name] = max(peaks[name], rss)
    return {name: (statistics.median(ts), peaks[name]) for name, ts in times.items()}


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


TINYRECIPE_SETUP = """from setuptools import setup
setup(name='tinyrecipe', version='1.0', py_modules=['tinyrecipe'],
      entry_points={'zc.buildout': ['default = tinyrecipe:Mkdir', 'noop = tinyrecipe:Noop'],
                    'zc.buildout.uninstall': ['default = tinyrecipe:uninstall']})
"""


def parts_config(n, develop):
    lines = ["[buildout]"]
    if develop:
        lines.append("develop = recipes")
    names = [f"p{i}" for i in range(n)]
    lines.append("parts = " + " ".join(names))
    for i, name in enumerate(names):
        recipe = "tinyrecipe:noop" if i % 3 == 2 else "tinyrecipe"
        lines += [f"[{name}]", f"recipe = {recipe}", f"content = part {i}"]
    return "\n".join(lines) + "\n"


def scenario_noop(args, n, env_bo, env_py):
    """No-op build of an unchanged n-part config (Buildout: a develop recipe)."""
    base = os.path.join(args.work, f"noop-{n}")
    shutil.rmtree(base, ignore_errors=True)
    b, z = os.path.join(base, "bo"), os.path.join(base, "buildout")
    write(os.path.join(b, "buildout.cfg"), parts_config(n, develop=False))
    write(os.path.join(z, "buildout.cfg"), parts_config(n, develop=True))
    recipes = os.path.join(args.root, "tests/conformance/cases/075-lc-install-then-noop/recipes")
    shutil.copytree(recipes, os.path.join(z, "recipes"))
    buildout = os.path.join(args.venv, "bin", "buildout")
    env_z = dict(env_py, PIP_NO_BUILD_ISOLATION="0")
    run([buildout, "-U", "-N", "bootstrap"], z, env_z)
    run([os.path.join(z, "bin", "buildout"), "-U", "-N"], z, env_z)
    run([args.bo, "-U", "-N"], b, env_bo)
    return measure({
        "bo": ([args.bo, "-U", "-N", "-q"], b, env_bo),
        "zc.buildout": ([os.path.join(z, "bin", "buildout"), "-U", "-N", "-q"], z, env_z),
    }, args.rounds)


def scenario_resolve(args, env_bo, env_py):
    """Resolving a large config: an extends chain of 12 files and 1,000 pins."""
    base = os.path.join(args.work, "resolve")
    shutil.rmtree(base, ignore_errors=True)
    files = 12
    for i in range(files):
        lines = ["[buildout]"]
        if i + 1 < files:
            lines.append(f"extends = level{i + 1}.cfg")
        if i == files - 1:
            lines += ["parts =", "versions = versions"]
        lines.append(f"find-links += https://example.com/level{i}")
        for s in range(20):
            lines += [f"[section{s}]", f"value{i} = ${{section{(s + 1) % 20}:base}} level {i}",
                      f"list += item{i}", "base = b"]
        if i == files - 1:
            lines.append("[versions]")
            lines += [f"package{p} = {p % 7}.{p % 13}.{p % 5}" for p in range(1000)]
        name = "buildout.cfg" if i == 0 else f"level{i}.cfg"
        write(os.path.join(base, name), "\n".join(lines) + "\n")
    buildout = os.path.join(args.venv, "bin", "buildout")
    return measure({
        "bo": ([args.bo, "-U", "query", "--json"], base, env_bo),
        "zc.buildout": ([buildout, "-U", "annotate"], base, env_py),
    }, args.rounds)


def scenario_parallel(args, env_bo):
    """8 independent parts each waiting ~1 s, against one such part (bo only)."""
    results = {}
    for n in (1, 8):
        base = os.path.join(args.work, f"parallel-{n}")
        shutil.rmtree(base, ignore_errors=True)
        names = [f"w{i}" for i in range(n)]
        cfg = "[buildout]\nparts = " + " ".join(names) + "\n" + "".join(
            f"[{name}]\nrecipe = sandbox-probe\nattack = sleep\nms = 1000\n" for name in names)
        write(os.path.join(base, "buildout.cfg"), cfg)
        # Remove the state each time so every run installs all parts.
        state = os.path.join(base, ".installed.cfg")
        results[f"bo, {n} part{'s' if n > 1 else ''}"] = ([args.bo, "-U", "-q", "build", "-j", "8", "--grant", "*:program=true", "--grant", "*:host=127.0.0.1"], base, env_bo, state)
    out = {}
    for name, (cmd, cwd, env, state) in results.items():
        def prepare(_name, state=state):
            if os.path.exists(state):
                os.remove(state)
        out.update(measure({name: (cmd, cwd, env)}, args.rounds, prepare))
    return out


# The egg scenarios: requirements whose wheels (with their dependencies) are
# downloaded from PyPI once into a local directory.
SMALL = ["python-dateutil==2.9.0.post0", "attrs==25.3.0", "idna==3.10"]  # 4 wheels
LARGE = ["sphinx==8.1.3", "flask==3.1.0", "requests==2.32.3", "pyramid==2.0.2", "pytest==8.3.4", "rich==13.9.4",
         "alembic==1.14.0"]  # ~50 wheels


def project(requirement):
    return requirement.split("==")[0]


def scenario_eggs(args, env_bo, env_py, tag, requirements):
    """A zc.recipe.egg part with the wheels of `requirements` from a local directory:
    fresh and warm, vs zc.buildout and `uv pip install --target`."""
    wheels = os.path.join(args.work, f"wheels-{tag}")
    if not os.path.isdir(wheels) or not os.listdir(wheels):
        os.makedirs(wheels, exist_ok=True)
        subprocess.run([os.path.join(args.venv, "bin", "pip"), "download", "-q", "--only-binary=:all:", "-d", wheels]
                       + requirements, check=True, env=dict(os.environ, PIP_FIND_LINKS=""))
    count = len([f for f in os.listdir(wheels) if f.endswith(".whl")])
    base = os.path.join(args.work, f"eggs-{tag}")
    shutil.rmtree(base, ignore_errors=True)
    eggs = "".join(f"    {project(r)}\n" for r in requirements)
    cfg = (f"[buildout]\nparts = app\nfind-links = {wheels}\nindex = {wheels}\n"
           f"[app]\nrecipe = zc.recipe.egg\neggs =\n{eggs}interpreter = py\n")
    b, z, u = (os.path.join(base, t) for t in ("bo", "buildout", "uv"))
    write(os.path.join(b, "buildout.cfg"), cfg)
    write(os.path.join(z, "buildout.cfg"), cfg)
    os.makedirs(u, exist_ok=True)
    buildout = os.path.join(args.venv, "bin", "buildout")
    env_z = dict(env_py, PIP_NO_BUILD_ISOLATION="0")
    run([buildout, "-U", "-N", "bootstrap"], z, env_z)
    env_b = dict(env_bo, PIP_FIND_LINKS="", BO_CACHE_DIR=os.path.join(base, "bo-cache"))
    env_u = dict(env_py, UV_CACHE_DIR=os.path.join(base, "uv-cache"), PIP_FIND_LINKS="")
    uv = os.path.join(args.venv, "bin", "uv")
    contenders = {
        "bo": ([args.bo, "-U", "-N", "-q"], b, env_b),
        "zc.buildout": ([os.path.join(z, "bin", "buildout"), "-U", "-N", "-q"], z, env_z),
        "uv pip install --target": ([uv, "pip", "install", "-q", "--no-index", "--find-links", wheels, "--target", "t",
                                     "--python", sys.executable] + [project(r) for r in requirements], u, env_u),
    }

    def fresh(name):
        for d, names in ((b, ["eggs", ".installed.cfg", "bin", "parts"]), (z, ["eggs", ".installed.cfg", "parts", "develop-eggs", "bin/py"]),
                         (u, ["t"])):
            for n in names:
                p = os.path.join(d, n)
                shutil.rmtree(p, ignore_errors=True) if os.path.isdir(p) else (os.path.exists(p) and os.remove(p))
        shutil.rmtree(os.path.join(base, "uv-cache"), ignore_errors=True)
        # bo's download cache goes; its compiled recipes stay, as zc.buildout's and
        # pip's compiled .pyc files and uv's own binary do.
        shutil.rmtree(os.path.join(base, "bo-cache", "downloads"), ignore_errors=True)

    cold = measure(contenders, args.rounds, prepare=fresh)

    def warm(name):
        for d, names in ((b, [".installed.cfg", "bin"]), (z, [".installed.cfg", "bin/py"]), (u, ["t"])):
            for n in names:
                p = os.path.join(d, n)
                shutil.rmtree(p, ignore_errors=True) if os.path.isdir(p) else (os.path.exists(p) and os.remove(p))

    hot = measure(contenders, args.rounds, prepare=warm)
    return count, cold, hot


# A classic recipe from PyPI (run by bo's classic-recipe runner, natively by
# zc.buildout): slapos.recipe.template (an sdist) with jinja2 and MarkupSafe.
CLASSIC = ["slapos.recipe.template==5.1", "jinja2==3.1.6", "markupsafe==3.0.4", "six==1.17.0"]


def scenario_classic(args, env_bo, env_py):
    """No-op builds of 1 and 10 parts of a classic recipe (slapos.recipe.template):
    each part costs bo two calls of the runner (constructor and update), each a
    warm start of CPython in WebAssembly plus importing the recipe."""
    files = os.path.join(args.work, "classic-files")
    if not os.path.isdir(files) or not os.listdir(files):
        os.makedirs(files, exist_ok=True)
        subprocess.run([os.path.join(args.venv, "bin", "pip"), "download", "-q", "--no-deps", "--no-binary=:all:", "-d", files]
                       + CLASSIC[:1] + CLASSIC[2:3], check=True, env=dict(os.environ, PIP_FIND_LINKS=""))
        subprocess.run([os.path.join(args.venv, "bin", "pip"), "download", "-q", "--no-deps", "--only-binary=:all:", "-d", files]
                       + CLASSIC[1:2] + CLASSIC[3:] + ["setuptools==84.2.1", "markupsafe==3.0.4"], check=True,
                       env=dict(os.environ, PIP_FIND_LINKS=""))
    rows = []
    for n in (1, 10):
        base = os.path.join(args.work, f"classic-{n}")
        shutil.rmtree(base, ignore_errors=True)
        names = [f"t{i}" for i in range(n)]
        cfg = (f"[buildout]\nparts = {' '.join(names)}\nfind-links = {files}\nindex = {files}\nnewest = false\n"
               "[versions]\nslapos.recipe.template = 5.1\njinja2 = 3.1.6\nmarkupsafe = 3.0.4\nsix = 1.17.0\nsetuptools = 84.2.1\n"
               + "".join(f"[{t}]\nrecipe = slapos.recipe.template\noutput = ${{buildout:bin-directory}}/{t}.txt\n"
                         f"inline = part {t} of ${{buildout:directory}}\n" for t in names))
        b, z = os.path.join(base, "bo"), os.path.join(base, "buildout")
        write(os.path.join(b, "buildout.cfg"), cfg)
        write(os.path.join(z, "buildout.cfg"), cfg)
        buildout = os.path.join(args.venv, "bin", "buildout")
        env_z = dict(env_py, PIP_NO_BUILD_ISOLATION="0", PIP_FIND_LINKS=files)
        run([buildout, "-U", "-N", "bootstrap"], z, env_z)
        run([os.path.join(z, "bin", "buildout"), "-U", "-N"], z, env_z)
        env_b = dict(env_bo, PIP_FIND_LINKS="")
        run([args.bo, "-U", "-N", "build", "-j", "1"], b, env_b)
        rows.append((f"no-op build, {n} classic part{'s' if n > 1 else ''} (slapos.recipe.template), -j 1",
                     measure({
                         "bo": ([args.bo, "-U", "-N", "-q", "build", "-j", "1"], b, env_b),
                         "zc.buildout": ([os.path.join(z, "bin", "buildout"), "-U", "-N", "-q"], z, env_z),
                     }, args.rounds)))
    return rows


def slapos_like_tree(base, components=200, releases=4, seed=7):
    """A generated tree of the shape of SlapOS (components extending components,
    with diamonds; software releases extending many components), for runs without
    a SlapOS checkout. Returns the release files."""
    import random
    rng = random.Random(seed)
    # Layers a component's tree applies (Buildout re-applies shared bases): kept
    # near SlapOS's (a software release of ~250 files applies ~180,000 layers).
    layers = []
    for c in range(components):
        deps = sorted(rng.sample(range(c), min(c, rng.randint(1, 4)))) if c else []
        while deps and 1 + sum(layers[d] for d in deps) > 8000:
            deps.pop()
        layers.append(1 + sum(layers[d] for d in deps))
        lines = ["[buildout]"]
        if deps:
            lines.append("extends = " + " ".join(f"../c{d}/buildout.cfg" for d in deps))
        lines.append(f"parts += c{c}")
        lines += [f"[c{c}]", f"recipe = slapos.recipe.cmmi", f"url = https://example.com/c{c}.tar.gz",
                  f"md5sum = {c:032x}", f"environment = PATH=${{c{deps[0] if deps else c}:location}}/bin:%(PATH)s"
                  if deps else "environment =", f"location = ${{buildout:parts-directory}}/c{c}",
                  "[versions]", f"pkg{c} = 1.{c}"]
        write(os.path.join(base, "component", f"c{c}", "buildout.cfg"), "\n".join(lines) + "\n")
    # A checkout, as SlapOS is: bo lets a configuration extend its own checkout.
    subprocess.run(["git", "init", "-q", base], check=True)
    out = []
    for r in range(releases):
        picks = sorted(rng.sample(range(components), 60 + 40 * r))
        print(f"generated release r{r}: {1 + sum(layers[p] for p in picks)} layers", file=sys.stderr)
        lines = ["[buildout]", "extends = " + " ".join(f"../../component/c{p}/buildout.cfg" for p in picks), "parts ="]
        path = os.path.join(base, "software", f"r{r}", "software.cfg")
        write(path, "\n".join(lines) + "\n")
        out.append(path)
    return out


def scenario_slapos(args, env_bo, env_py):
    """Resolution at SlapOS scale: a generated tree (and a real SlapOS checkout with
    --slapos); zc.buildout is stopped after --slapos-timeout seconds."""
    rows = []
    base = os.path.join(args.work, "slapos-like")
    shutil.rmtree(base, ignore_errors=True)
    buildout = os.path.join(args.venv, "bin", "buildout")
    for release in slapos_like_tree(base):
        cwd = os.path.dirname(release)
        label = f"resolve: generated SlapOS-like tree, {os.path.basename(cwd)}"
        bo_result = measure({"bo": ([args.bo, "-U", "-c", release, "query", "--json"], cwd, env_bo)}, args.rounds)
        start = time.perf_counter()
        try:
            proc = subprocess.run([buildout, "-U", "-c", release, "annotate"], cwd=cwd, env=env_py,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=args.slapos_timeout)
            zc = (time.perf_counter() - start, 0) if proc.returncode == 0 else None
        except subprocess.TimeoutExpired:
            zc = (float(args.slapos_timeout), 0)
        if zc:
            bo_result["zc.buildout (1 run)"] = zc
        rows.append((label, bo_result))
    if args.slapos:
        for release in ["component/clamav/buildout.cfg", "software/helloworld/software.cfg",
                        "software/kvm/software.cfg", "software/erp5/software.cfg"]:
            path = os.path.join(args.slapos, release)
            rows.append((f"resolve: SlapOS {release}",
                         measure({"bo": ([args.bo, "-U", "-c", path, "query", "--json"], args.slapos, env_bo)}, args.rounds)))
    return rows


def scenario_first_use(args, env_bo):
    """The first build with a recipe on a machine: an empty cache (bo compiles the
    component), per language."""
    rows = []
    recipes = {
        "Rust (tinyrecipe)": "[t]\nrecipe = tinyrecipe\n",
        "Python (collective.recipe.template)": "[t]\nrecipe = collective.recipe.template\ninline = hi\noutput = ${buildout:directory}/etc/x\n",
        "C (z3c.recipe.mkdir)": "[t]\nrecipe = z3c.recipe.mkdir\npaths = ${buildout:directory}/var/x\n",
        "JavaScript (hexagonit.recipe.download)": "[t]\nrecipe = hexagonit.recipe.download\nurl = file://${buildout:directory}/buildout.cfg\ndownload-only = true\n",
    }
    for name, section in recipes.items():
        base = os.path.join(args.work, "first-use", name.split()[0].lower())
        cache = os.path.join(base, "cache")
        env = dict(env_bo, BO_CACHE_DIR=cache)

        def fresh(_):
            shutil.rmtree(cache, ignore_errors=True)
            for leftover in [".installed.cfg", "parts", "etc", "var", "bin"]:
                path = os.path.join(base, leftover)
                shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else (os.path.exists(path) and os.remove(path))
        write(os.path.join(base, "buildout.cfg"), "[buildout]\nparts = t\n" + section)
        rows.append((f"first use, empty cache: {name}", measure({"bo": ([args.bo, "-U", "-q", "build"], base, env)}, 3, prepare=fresh)))
    return rows


def fmt(results, reference="bo"):
    rows = []
    if reference not in results:
        reference = next(iter(results))
    ref = results[reference][0]
    for name, (median, peak) in results.items():
        ratio = "1.00" if name == reference else f"{median / ref:.1f}x slower" if median > ref else f"{ref / median:.1f}x faster"
        rows.append((name, f"{median * 1000:.1f} ms", ratio, f"{peak / 1024:.1f} MiB"))
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bo", required=True)
    parser.add_argument("--recipes", required=True)
    parser.add_argument("--venv", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="*", choices=["noop", "resolve", "slapos", "first-use", "eggs", "parallel", "classic"],
                        help="run only these scenarios")
    parser.add_argument("--slapos", help="a SlapOS checkout (adds its releases to the slapos scenario)")
    parser.add_argument("--slapos-timeout", type=int, default=120, help="seconds zc.buildout gets per release")
    args = parser.parse_args()
    if args.quick:
        args.rounds = 3
    args.root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    recipe_dir = os.path.join(args.work, "recipes")
    os.makedirs(recipe_dir, exist_ok=True)
    for name in os.listdir(args.recipes):
        if name.endswith(".wasm"):
            shutil.copy(os.path.join(args.recipes, name), os.path.join(recipe_dir, name.replace("_", "-")))
    home = os.path.join(args.work, "home")
    os.makedirs(home, exist_ok=True)
    env_py = dict(os.environ, HOME=home, PIP_NO_INDEX="1")
    env_bo = dict(env_py, BO_RECIPE_PATH=recipe_dir, BO_CACHE_DIR=os.path.join(args.work, "bo-cache"))

    def eggs(tag, requirements):
        count, cold, hot = scenario_eggs(args, env_bo, env_py, tag, requirements)
        return [(f"egg part, {count} wheels, fresh (empty store and caches)", cold),
                (f"egg part, {count} wheels, warm (store filled)", hot)]

    scenarios = {
        "noop": lambda: [(f"no-op build, {n} part{'s' if n > 1 else ''}", scenario_noop(args, n, env_bo, env_py))
                         for n in (1, 3, 10, 20, 100, 300)],
        "resolve": lambda: [("resolve: 12-file extends chain, 1,000 pins (bo query --json / buildout annotate)",
                             scenario_resolve(args, env_bo, env_py))],
        "slapos": lambda: scenario_slapos(args, env_bo, env_py),
        "first-use": lambda: scenario_first_use(args, env_bo),
        "eggs": lambda: eggs("small", SMALL) + eggs("large", LARGE),
        "parallel": lambda: [("parts waiting ~1 s each, -j 8", scenario_parallel(args, env_bo))],
        "classic": lambda: scenario_classic(args, env_bo, env_py),
    }
    table = []
    for key, scenario in scenarios.items():
        if args.only and key not in args.only:
            continue
        for label, results in scenario():
            for name, median, ratio, peak in fmt(results):
                table.append(f"| {label} | {name} | {median} | {ratio} | {peak} |")

    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {cpu}; Python {platform.python_version()}; "
          f"median of {args.rounds} alternating runs")
    print("| scenario | tool | median | vs bo | peak RSS |")
    print("|---|---|---|---|---|")
    print("\n".join(table))


if __name__ == "__main__":
    main()
