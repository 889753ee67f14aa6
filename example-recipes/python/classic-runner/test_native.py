"""Native test of the classic runner, without bo or wasmtime (not part of the component).

Stubs the componentize-py bindings (wit_world, host, python, types,
componentize_py_types), downloads real recipes from PyPI with pip into a
cache, and drives app.py's exports against a temporary buildout:

    python3 test_native.py            # needs pip and network access to PyPI
"""

import enum
import json
import os
import subprocess
import sys
import tempfile
import types as pytypes
import zipfile
from dataclasses import dataclass, field

REAL_POPEN = subprocess.Popen  # the runner patches subprocess.Popen
REAL_SYMLINK = os.symlink
HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.environ.get("BO_TEST_CACHE", "/tmp/bo-classic-runner-test")
WHEELS = ["collective.recipe.omelette==3.0.0", "zc.recipe.testrunner==5.0", "zc.recipe.egg==6.0.0",
          "mr.developer==3.0.0", "z3c.recipe.mkdir==2.1", "collective.recipe.cmd==1.0.0",
          "packaging==24.2"]


class Err(Exception):
    def __init__(self, value):
        super().__init__(value)
        self.value = value


@dataclass
class RunRequest:
    program: str
    args: list
    cwd: object
    env: list
    timeout_ms: object


@dataclass
class RunOutput:
    status: int
    stdout: str
    stderr: str


@dataclass
class Distribution:
    name: str
    version: str
    location: str
    console_scripts: list = field(default_factory=list)


@dataclass
class Script:
    name: str
    module: str
    attrs: str


@dataclass
class ScriptsRequest:
    path: list
    scripts: list
    interpreter: object
    initialization: str
    arguments: str
    relative_paths: bool
    bin_directory: str


class Host:
    """Records what the recipe asks of the host."""

    def __init__(self):
        self.config, self.logs, self.runs, self.installs, self.scripts = {}, [], [], [], []
        self.programs, self.dists, self.calls = {"sh", "echo"}, [], []

    def log(self, level, message):
        self.logs.append((level.name, message))

    def config_get(self, section, key):
        return self.config.get(section, {}).get(key)

    def download(self, url, sha256, md5):
        raise Err("no downloads in the test")

    def run(self, request):
        self.runs.append(request)
        if request.program not in self.programs:
            raise Err("bo: program %r is not granted; add it with --grant" % request.program)
        p = REAL_POPEN([request.program] + request.args, cwd=request.cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
        out, err = p.communicate()
        return RunOutput(p.returncode, out, err)

    def copy_file(self, source, destination):
        import shutil
        shutil.copyfile(source, destination)

    def symlink(self, target, link):
        REAL_SYMLINK(target, link)

    def set_mode(self, path, mode):
        self.calls.append(("set_mode", path, mode))

    def install(self, requirements):
        self.installs.append(list(requirements))
        return list(self.dists)

    def write_scripts(self, request):
        self.scripts.append(request)
        names = [s.name for s in request.scripts] + ([request.interpreter] if request.interpreter else [])
        return [os.path.join(request.bin_directory, n) for n in names]


HOST = Host()


def install_stubs():
    mod = lambda name, **kw: sys.modules.setdefault(name, pytypes.ModuleType(name)).__dict__.update(kw)
    Level = enum.Enum("Level", "DEBUG INFO WARNING ERROR")
    Capabilities = Manifest = lambda **kw: pytypes.SimpleNamespace(**kw)
    mod("componentize_py_types", Err=Err)
    mod("wit_world", WitWorld=object)
    mod("wit_world.imports")
    mod("wit_world.imports.types", Level=Level, RunRequest=RunRequest, RunOutput=RunOutput,
        Capabilities=Capabilities, Manifest=Manifest)
    mod("wit_world.imports.host", log=HOST.log, config_get=HOST.config_get, download=HOST.download,
        run=HOST.run, copy_file=HOST.copy_file, set_mode=HOST.set_mode, symlink=HOST.symlink)
    mod("wit_world.imports.python", install=HOST.install, write_scripts=HOST.write_scripts,
        Distribution=Distribution, Script=Script, ScriptsRequest=ScriptsRequest)
    imports = sys.modules["wit_world.imports"]
    for name in ("types", "host", "python"):
        setattr(imports, name, sys.modules["wit_world.imports." + name])


def unpacked():
    """{dist name: directory} of the recipes' wheels, downloaded once."""
    wheels = os.path.join(CACHE, "wheels")
    if not os.path.isdir(wheels) or len(os.listdir(wheels)) < len(WHEELS):
        subprocess.check_call([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", wheels] + WHEELS)
    result = {}
    for wheel in sorted(os.listdir(wheels)):
        name = wheel.split("-")[0].replace("_", ".")
        target = os.path.join(CACHE, "store", wheel[:-4])
        if not os.path.isdir(target):
            zipfile.ZipFile(os.path.join(wheels, wheel)).extractall(target)
        result[name] = (target, wheel.split("-")[1])
    return result


def fake_dist(root, name, version, scripts=(), requires=()):
    """A dist-info-only distribution standing in for one bo would install."""
    location = os.path.join(root, "%s-%s" % (name, version))
    info = os.path.join(location, "%s-%s.dist-info" % (name.replace("-", "_"), version))
    os.makedirs(info, exist_ok=True)
    with open(os.path.join(info, "METADATA"), "w") as f:
        f.write("Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version)
                + "".join("Requires-Dist: %s\n" % r for r in requires))
    if scripts:
        with open(os.path.join(info, "entry_points.txt"), "w") as f:
            f.write("[console_scripts]\n" + "".join("%s = %s\n" % s for s in scripts))
    return Distribution(name, version, location, list(scripts))


def setup_call(buildout_dir, store, recipe, entry, uninstall=None, sections=None):
    deps = [recipe] + (["zc.recipe.egg"] if recipe != "zc.recipe.egg" else [])
    deps += ["packaging"] if recipe == "zc.recipe.testrunner" else []
    os.environ["BO_CLASSIC_ENTRY"] = entry
    os.environ.pop("BO_CLASSIC_UNINSTALL", None)
    if uninstall:
        os.environ["BO_CLASSIC_UNINSTALL"] = uninstall
    os.environ["BO_CLASSIC_PATH"] = json.dumps([store[d][0] for d in deps])
    os.environ["BO_CLASSIC_DISTS"] = json.dumps(
        [{"name": d, "version": store[d][1], "location": store[d][0]} for d in deps])
    os.environ["BO_CLASSIC_SECTIONS"] = json.dumps(sections or {"buildout": ["directory"]})
    HOST.config = {"buildout": {"directory": buildout_dir, "parts-directory": os.path.join(buildout_dir, "parts"),
                                "bin-directory": os.path.join(buildout_dir, "bin")}}
    for mod in [m for m in sys.modules if m.startswith(("collective", "z3c", "zc.recipe"))]:
        del sys.modules[mod]


def main():
    install_stubs()
    sys.path.insert(0, HERE)
    import app
    import zc.buildout
    world = app.WitWorld()
    store = unpacked()
    failures, passed = [], []

    def check(what, ok):
        print(("ok   " if ok else "FAIL ") + what)
        (passed if ok else failures).append(what)

    with tempfile.TemporaryDirectory() as bdir:
        for d in ("parts", "bin", "eggs", "develop-eggs"):
            os.mkdir(os.path.join(bdir, d))
        site = os.path.join(bdir, "store")
        # omelette: links each distribution's top-level packages.
        foo = fake_dist(site, "foo", "1.0")
        os.makedirs(os.path.join(foo.location, "foo"))
        open(os.path.join(foo.location, "foo", "__init__.py"), "w").close()
        with open(os.path.join(foo.location, "foo-1.0.dist-info", "top_level.txt"), "w") as f:
            f.write("foo\n")
        HOST.dists = [foo]
        setup_call(bdir, store, "collective.recipe.omelette", "collective.recipe.omelette:Recipe",
                   "collective.recipe.omelette:uninstall")
        opts = [("recipe", "collective.recipe.omelette"), ("eggs", "foo")]
        added = dict(world.init("omelette", opts))
        check("omelette init sets location", added.get("location") == os.path.join(bdir, "parts", "omelette"))
        opts += list(added.items())
        paths = world.install("omelette", opts)
        link = os.path.join(bdir, "parts", "omelette", "foo")
        check("omelette install returns its location", paths == [os.path.join(bdir, "parts", "omelette")])
        check("omelette links foo", os.path.islink(link) and os.readlink(link) == os.path.join(foo.location, "foo"))
        check("omelette asked bo for eggs=foo", HOST.installs[-1] == ["foo"])
        world.uninstall("omelette", opts)
        location = os.path.join(bdir, "parts", "omelette")
        check("omelette uninstall empties its location (bo removes the preopen itself)",
              not os.path.exists(location) or not os.listdir(location))

        # testrunner: a `test` script for zope.testrunner.
        zt = fake_dist(site, "zope.testrunner", "6.0", [("zope-testrunner", "zope.testrunner:run")])
        packaging = store.get("packaging")
        HOST.dists = [foo, zt]
        setup_call(bdir, store, "zc.recipe.testrunner", "zc.recipe.testrunner:TestRunner")
        if True:
            opts = [("recipe", "zc.recipe.testrunner"), ("eggs", "foo")]
            added = dict(world.init("test", opts))
            check("testrunner init sets script", added.get("script") == os.path.join(bdir, "bin", "test"))
            paths = world.install("test", opts + list(added.items()))
            req = HOST.scripts[-1]
            check("testrunner asks for a test script",
                  [(s.name, s.module, s.attrs) for s in req.scripts] == [("test", "zope.testrunner", "run")]
                  and req.bin_directory == os.path.join(bdir, "bin"))
            check("testrunner passes the paths", foo.location in req.path and zt.location in req.path
                  and "--test-path" in req.arguments)
            check("testrunner returns script and location",
                  os.path.join(bdir, "bin", "test") in paths and os.path.join(bdir, "parts", "test") in paths)
        del packaging

        # zc.recipe.egg: console scripts of the eggs, renamed by `scripts`.
        HOST.dists = [zt]
        setup_call(bdir, store, "zc.recipe.egg", "zc.recipe.egg:Scripts")
        opts = [("recipe", "zc.recipe.egg"), ("eggs", "zope.testrunner"), ("scripts", "zope-testrunner=tr"),
                ("interpreter", "py")]
        paths = world.install("eggs", opts + world.init("eggs", opts))
        req = HOST.scripts[-1]
        check("egg scripts renamed", [(s.name, s.module) for s in req.scripts] == [("tr", "zope.testrunner")]
              and req.interpreter == "py")
        check("egg returns script paths", paths == [os.path.join(bdir, "bin", "tr"), os.path.join(bdir, "bin", "py")])
        check("egg has no update warning", not [m for _, m in HOST.logs if "update method" in m])

        # mkdir: created() paths and UserError.
        setup_call(bdir, store, "z3c.recipe.mkdir", "z3c.recipe.mkdir:Recipe")
        opts = [("recipe", "z3c.recipe.mkdir"), ("paths", "var/a\nvar/b"), ("remove-on-update", "yes"),
                ("mode", "0750")]
        paths = world.install("dirs", opts + world.init("dirs", opts))
        check("mkdir creates (created() paths)", os.path.isdir(os.path.join(bdir, "var", "a")) and len(paths) == 3)
        check("os.chmod goes through host.set_mode", ("set_mode", os.path.join(bdir, "var", "a"), 0o750) in HOST.calls)
        try:
            world.install("dirs", [("recipe", "z3c.recipe.mkdir"), ("paths", "nope/x"), ("create-intermediate", "no")])
            check("mkdir bad mode is an error", False)
        except Err as e:
            check("UserError becomes its message", "Cannot create" in e.value and "Traceback" not in e.value)

        # collective.recipe.cmd: commands through host.run; a denial is readable.
        setup_call(bdir, store, "collective.recipe.cmd", "collective.recipe.cmd:Cmd",
                   "collective.recipe.cmd:uninstallCmd")
        opts = [("recipe", "collective.recipe.cmd"), ("on_install", "true"), ("cmds", "echo hi > cmd-out")]
        world.init("cmd", opts)
        world.install("cmd", opts)
        check("cmd ran sh through host.run", HOST.runs[-1].program == "sh" and HOST.runs[-1].args[0] == "-c"
              and os.path.exists(os.path.join(bdir, "cmd-out")))
        HOST.programs = {"echo"}
        try:
            world.install("cmd", opts)
            check("denied program is an error", False)
        except Err as e:
            check("denial names the grant", "--grant" in e.value and "PermissionError" in e.value)
        HOST.programs = {"sh", "echo"}
        try:
            world.update("cmd", [("recipe", "collective.recipe.cmd"), ("on_update", "true"), ("cmds", "exit 3")])
            check("failing command is an error", False)
        except Err as e:
            check("failure carries a short traceback", "CalledProcessError" in e.value and "Traceback" in e.value)

        # Buildout mapping: other sections and ${} substitution.
        setup_call(bdir, store, "z3c.recipe.mkdir", "z3c.recipe.mkdir:Recipe",
                   sections={"buildout": ["directory"], "vars": ["name"]})
        HOST.config["vars"] = {"name": "world"}
        import zc.buildout.buildout as bb
        b = bb.Buildout({"buildout": ["directory"], "vars": ["name"]}, "p", {"recipe": "x"})
        check("_sub substitutes", b["p"]._sub("hello ${vars:name}", None) == "hello world")
        check("missing section", isinstance(_raises(lambda: b["nope"]), bb.MissingSection))
        check("missing option", isinstance(_raises(lambda: b["vars"]["nope"]), bb.MissingOption))
        check("buildout defaults", b["buildout"]["eggs-directory"] == os.path.join(bdir, "eggs"))
        check("zc.buildout is the shim", zc.buildout.__file__.startswith(HERE))

    # mr.developer as an extension: an fs and a git source, auto-checkout = *.
    with tempfile.TemporaryDirectory() as bdir:
        fixture = os.path.join(HERE, "..", "..", "..", "tests", "fixtures", "classic-recorded", "mr-developer")
        import shutil
        shutil.copytree(os.path.join(fixture, "src"), os.path.join(bdir, "src"))
        os.chdir(bdir)
        REAL_POPEN(["sh", os.path.join(fixture, "make-repo.sh"), os.path.join(bdir, "repos", "gitpkg")]).wait()
        setup_call(bdir, store, "mr.developer", "")
        os.environ["BO_CLASSIC_EXTENSION"] = "mr.developer.extension:extension"
        os.environ["BO_CLASSIC_ROOT_FILES"] = json.dumps([".mr.developer.cfg"])
        git = shutil.which("git")
        os.environ["BO_CLASSIC_PROGRAMS"] = json.dumps({git: "git"})
        HOST.programs = {"git"}
        os.environ["BO_CLASSIC_SECTIONS"] = json.dumps(
            {"buildout": ["directory", "parts", "auto-checkout"], "versions": ["mr.developer"],
             "sources": ["fspkg", "gitpkg"]})
        HOST.config.update({
            "buildout": dict(HOST.config["buildout"], parts="", **{"auto-checkout": "*"}),
            "versions": {"mr.developer": "3.0.0"},
            "sources": {"fspkg": "fs fspkg", "gitpkg": "git file://%s/repos/gitpkg" % bdir}})
        changes = {tuple(json.loads(k)): v for k, v in world.init("mr.developer", [])}
        os.environ.pop("BO_CLASSIC_EXTENSION")
        check("extension sets develop", changes.get(("final", "buildout", "develop")) == "src/fspkg\nsrc/gitpkg")
        check("extension adds its part", changes.get(("final", "buildout", "parts")) == "_mr.developer"
              and changes.get(("raw", "_mr.developer", "recipe")) == "zc.recipe.egg")
        check("extension unpins its develop eggs", changes.get(("raw", "versions", "gitpkg")) == "")
        check("git clone ran", os.path.isfile(os.path.join(bdir, "src", "gitpkg", "setup.py")))
        import base64
        cfg = base64.b64decode(changes.get(("file", "", ".mr.developer.cfg"), "")).decode()
        check("the state file is returned, not written", "gitpkg = auto" in cfg
              and not os.path.exists(os.path.join(bdir, ".mr.developer.cfg")))
        check("mr.developer logged", any("Cloned 'gitpkg' with git" in m for _, m in HOST.logs))

    print("%d passed, %d failed" % (len(passed), len(failures)))
    return 1 if failures else 0


def _raises(f):
    try:
        f()
    except Exception as e:
        return e
    return None


if __name__ == "__main__":
    sys.exit(main())
