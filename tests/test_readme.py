"""The README and the documentation site are runnable documents: every code block in them runs, and what it
shows is what runs print.

README.md and every page under docs/ (docs/**/*.md) are run, each in scratch registries of its own, with
the `<!-- not run -->` blocks counted per file. How a page's blocks are read (the rules are also the
pages' conventions):

- ```console / ```bash / ```sh blocks run in a scratch registry, in the order they appear. In a block
  with ``$ `` lines, each ``$ command`` runs on its own and the lines after it, up to the next
  ``$ ``, are what it must print (stdout and stderr together); a block without ``$ `` lines is one
  script, which must succeed.
- ```python blocks run as a script with the scratch registry as the current folder. A ```text block
  right after one, marked ``<!-- output -->``, is what it must print.
- ``<!-- registry: NAME -->`` before a block makes it (and the blocks after it) run in the scratch
  folder NAME, an empty folder when first named; blocks start in the folder ``proj``.
- ``<!-- not run: REASON -->`` before a block marks one that cannot run here (it needs an S3
  bucket, a GitHub runner, ...). Such blocks are counted and listed, never skipped silently.
- The command-line reference is generated from the CLI when the site is built (``<!-- gitreg-cli: ... -->``
  placeholders, docsgen/reference.py; tests/test_docs_site.py checks it covers every command and option).
- Any other block (YAML, a diff, an indented block, ...) without a mark fails, and so does a
  block with ``...`` standing for code or output left out.

Outputs are compared after a few narrow normalisations, applied to both sides: the scratch
folder's path reads ``/home/me/proj``; ISO timestamps, run-id stamps and hex ids (commits,
hashes: 7 or more hex digits; a store object's ``<aa>/<rest>`` path) are placeholders; artifact sizes
(``size: N``, ``21.9 KiB``) are placeholders, since they change with the versions of the libraries that write
the files; the padding between table columns is one run of spaces.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
RUNNABLE = {"console", "bash", "sh", "python"}
SHOWN_PATH = "/home/me/proj"
# Blocks each file marks `<!-- not run: ... -->` (a file not named: none). A new one must be added here on purpose.
NOT_RUN_EXPECTED = {
    "README.md": 3,
    "docs/index.md": 1,
    "docs/explanation/performance.md": 1,
    "docs/explanation/security.md": 1,
    "docs/how-to/artifact-stores.md": 5,
    "docs/how-to/ci.md": 3,
    "docs/how-to/team.md": 3,
    "docs/reference/format.md": 1,
    "docs/how-to/inspect.md": 1,
    "docs/how-to/dashboard.md": 1,
    "docs/how-to/mlflow.md": 3,
    "docs/how-to/importing.md": 3,
}


def documents() -> list[str]:
    """README.md and every page of the documentation site, as paths from the root of the checkout."""
    return ["README.md", *sorted(str(p.relative_to(ROOT)) for p in DOCS.rglob("*.md"))]


@dataclass
class Block:
    lang: str
    body: str
    line: int
    section: str
    marks: list[str] = field(default_factory=list)
    indented: bool = False
    source: str = "README.md"

    def mark(self, name: str) -> str | None:
        for m in self.marks:
            key, _, value = m.partition(":")
            if key.strip() == name:
                return value.strip()
        return None

    def where(self) -> str:
        return f"{self.source}:{self.line} ({self.section})"


def parse_blocks(text: str, source: str = "README.md") -> list[Block]:
    """The fenced and indented code blocks of a Markdown text, with the HTML comments right before them."""
    blocks: list[Block] = []
    lines = text.splitlines()
    section, marks, i, prev_blank = "(top)", [], 0, True
    while i < len(lines):
        line = lines[i]
        fence = re.match(r"^(```+)\s*([\w-]*)\s*$", line)
        if fence:
            end = i + 1
            while end < len(lines) and not lines[end].startswith(fence.group(1)):
                end += 1
            blocks.append(Block(fence.group(2) or "", "\n".join(lines[i + 1:end]) + "\n", i + 1, section, marks,
                                source=source))
            marks, i, prev_blank = [], end + 1, False
            continue
        if prev_blank and (line.startswith("    ") or line.startswith("\t")) and line.strip():
            end = i
            while end < len(lines) and (lines[end].startswith("    ") or not lines[end].strip()):
                end += 1
            body = textwrap.dedent("\n".join(lines[i:end])).strip("\n") + "\n"
            blocks.append(Block("", body, i + 1, section, marks, indented=True, source=source))
            marks, i, prev_blank = [], end, True
            continue
        comment = re.fullmatch(r"\s*<!--(.*)-->\s*", line)
        if comment:
            marks = marks + [comment.group(1).strip()]
        elif line.strip():
            marks = []
            if line.startswith("## ") or (line.startswith("# ") and section == "(top)"):
                section = line.lstrip("#").strip()
        prev_blank = not line.strip()
        i += 1
    return blocks


_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?")
_STAMP = re.compile(r"\b\d{8}T\d{6}\b")
_OBJECT = re.compile(r"\b[0-9a-f]{2}/[0-9a-f]{62}\b")  # objects/sha256/<aa>/<rest>
_HEX = re.compile(r"\b[0-9a-f]{7,64}\b")
_SIZE = re.compile(r"\b\d+(?:\.\d+)? (?:B|KiB|MiB|GiB)\b|(?<=size: )\d+")


def normalise(text: str, folder: Path | None = None) -> str:
    if folder is not None:
        text = text.replace(str(folder), SHOWN_PATH)
    text = _TIME.sub("<time>", text)
    text = _STAMP.sub("<stamp>", text)
    text = _OBJECT.sub("<hex>", text)
    text = _HEX.sub("<hex>", text)
    text = _SIZE.sub("<size>", text)
    out = [re.sub(r" {2,}", "  ", line.rstrip()) for line in text.strip("\n").splitlines()]
    return "\n".join(out)


def elided(body: str) -> bool:
    """A line that is only `...` (or `…`): something left out."""
    return any(line.strip() in ("...", "…", "# ...") for line in body.splitlines())


def console_steps(body: str) -> list[tuple[str, str]]:
    """(command, expected output) pairs of a block written with `$ ` prompts."""
    steps: list[tuple[str, list[str]]] = []
    lines = body.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("$ "):
            command = lines[i][2:]
            while command.endswith("\\") and i + 1 < len(lines):
                i += 1
                command = command + "\n" + lines[i]
            steps.append((command, []))
        elif steps:
            steps[-1][1].append(lines[i])
        i += 1
    return [(c, "\n".join(out)) for c, out in steps]


@dataclass
class Outcome:
    ran: int = 0
    not_run: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def run_document(text: str, scratch: Path, env: dict[str, str], source: str = "README.md") -> Outcome:
    """Run every block of a page; return what ran, what was marked not run, and what failed."""
    result = Outcome()
    folder = scratch / "proj"
    last_python: tuple[Block, str] | None = None
    blocks = parse_blocks(text, source)
    for block in blocks:
        fail = lambda msg, b=block: result.failures.append(f"{b.where()}: {msg}")  # noqa: E731
        reason = block.mark("not run")
        if reason is not None:
            if not reason:
                fail("`<!-- not run: -->` needs a reason")
            result.not_run.append(f"{block.where()}: {reason}")
            continue
        name = block.mark("registry")
        if name:
            folder = scratch / name
        folder.mkdir(parents=True, exist_ok=True)
        if elided(block.body):
            fail("`...` stands for something left out: show it whole")
            continue
        if block.indented:
            fail("an indented code block: write it as a fenced block (```console, ```python, ...)")
            continue
        if block.mark("output") is not None:
            if last_python is None:
                fail("an output block with no python block before it")
            elif normalise(block.body, folder) != normalise(last_python[1], folder):
                fail(f"the python block above prints:\n{last_python[1]}")
            last_python = None
            continue
        if block.lang not in RUNNABLE:
            fail(f"a ```{block.lang} block that neither runs nor is marked (`<!-- not run: why -->`, "
                 "`<!-- output -->`)")
            continue
        result.ran += 1
        if block.lang == "python":
            script = scratch / f"readme_block_{block.line}.py"
            script.write_text(block.body)
            proc = subprocess.run([sys.executable, str(script)], cwd=folder, env=env, capture_output=True,
                                  text=True)
            if proc.returncode:
                fail(f"python exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
            last_python = (block, proc.stdout)
            continue
        steps = console_steps(block.body)
        if not steps:
            steps = [(block.body, None)]
        for command, expected in steps:
            proc = subprocess.run(["bash", "-eo", "pipefail", "-c", command], cwd=folder, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if proc.returncode:
                fail(f"`{command}` exited {proc.returncode}:\n{proc.stdout}")
            elif expected is not None and normalise(expected, folder) != normalise(proc.stdout, folder):
                fail(f"`{command}` prints:\n{proc.stdout}")
    return result


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]
    env.pop("CI", None)  # no progress bars or CI-only behaviour in what the reader would see
    return env


@pytest.mark.parametrize("document", documents())
def test_every_block_runs_and_prints_what_it_shows(document: str, tmp_path: Path) -> None:
    result = run_document((ROOT / document).read_text(), tmp_path, _env(), document)
    assert not result.failures, "\n\n".join(result.failures)
    if document == "README.md":
        assert result.ran >= 5
    assert len(result.not_run) == NOT_RUN_EXPECTED.get(document, 0), (
        f"blocks of {document} marked not run (update NOT_RUN_EXPECTED only for a block that truly cannot run"
        " here):\n" + "\n".join(result.not_run))


def test_every_expected_not_run_count_names_a_document() -> None:
    assert set(NOT_RUN_EXPECTED) <= set(documents())


# --- the rules themselves: each kind of broken README fails ---------------------------------------------

def _document(tmp_path: Path, text: str) -> Outcome:
    return run_document(textwrap.dedent(text), tmp_path, _env())


def test_a_block_with_an_ellipsis_body_fails(tmp_path: Path) -> None:
    out = _document(tmp_path, """\
        ## Steps

        ```python
        def train():
            ...
        ```
        """)
    assert len(out.failures) == 1 and "left out" in out.failures[0] and "README.md:3 (Steps)" in out.failures[0]


def test_output_that_differs_from_what_the_command_prints_fails(tmp_path: Path) -> None:
    ok = _document(tmp_path / "a", """\
        ```console
        $ echo "made 2026-11-26T15:47:52Z in $PWD, commit 5709887"
        made 2026-01-01T00:00:00Z in /home/me/proj, commit 81f0a9b
        ```
        """)
    assert ok.failures == [] and ok.ran == 1
    wrong = _document(tmp_path / "b", """\
        ```console
        $ echo hello
        goodbye
        ```
        """)
    assert len(wrong.failures) == 1 and "prints:\nhello" in wrong.failures[0]


def test_a_failing_command_or_script_fails(tmp_path: Path) -> None:
    out = _document(tmp_path, """\
        ```bash
        false
        ```

        ```python
        import no_such_module_here
        ```
        """)
    assert len(out.failures) == 2 and "exited 1" in out.failures[0] and "ModuleNotFoundError" in out.failures[1]


def test_unmarked_blocks_that_cannot_run_fail_and_marked_ones_are_counted(tmp_path: Path) -> None:
    out = _document(tmp_path, """\
        ```yaml
        remote: origin
        ```

        Indented:

            gitreg init

        <!-- not run: needs an S3 bucket -->
        ```console
        $ gitreg init --store s3://bucket/prefix
        ```
        """)
    assert len(out.failures) == 2 and "```yaml" in out.failures[0] and "indented" in out.failures[1]
    assert out.not_run == ["README.md:10 ((top)): needs an S3 bucket"] and out.ran == 0


def test_python_output_blocks_are_compared(tmp_path: Path) -> None:
    text = """\
        ```python
        print("v", 2)
        ```

        <!-- output -->
        ```text
        v 3
        ```
        """
    out = _document(tmp_path, text)
    assert len(out.failures) == 1 and "prints:\nv 2" in out.failures[0]
    assert _document(tmp_path / "b", text.replace("v 3", "v 2")).failures == []


def test_named_registries_keep_their_state_between_blocks(tmp_path: Path) -> None:
    out = _document(tmp_path, """\
        <!-- registry: one -->
        ```bash
        echo first > note.txt
        ```

        <!-- registry: two -->
        ```console
        $ ls
        ```

        <!-- registry: one -->
        ```console
        $ cat note.txt
        first
        ```
        """)
    assert out.failures == [] and out.ran == 3


# --- the reference's prose, the install lines and the example workflows -------------------------------------

def test_the_reference_names_every_metadata_filter_operator() -> None:
    from gitreg.filters import OPS

    section = (DOCS / "reference/cli/model-version.md").read_text()
    [bullet] = [b for b in section.split("\n- ") if b.startswith("`model version list --metadata KEY:OP:VALUE`")]
    listed = re.search(r"one of `([a-z ]+)`", " ".join(bullet.split())).group(1).split()
    assert sorted(listed) == sorted(OPS)


@pytest.mark.parametrize("term", ["run_metadata", "force=True", "ArtifactConfig", "get_pipeline_context",
                                  "get_step_context"])
def test_concepts_are_explained_in_prose_before_code_uses_them(term: str) -> None:
    """In each page whose code uses a concept, the text mentions it before the first code block that uses it."""
    used = 0
    for document in documents():
        text = (ROOT / document).read_text()
        starts = [text.index(b.body) for b in parse_blocks(text, document) if term in b.body]
        if not starts:
            continue
        used += 1
        prose = re.sub(r"```.*?```", lambda m: " " * len(m.group(0)), text, flags=re.S)
        assert term in prose[:min(starts)], f"{document}: {term!r} is used in a code block before the text explains it"
    assert used, f"no page's code uses {term!r}: drop it from this list"


def _distribution() -> tuple[str, str]:
    project = (ROOT / "pyproject.toml").read_text().split("[project]", 1)[1]
    name = re.search(r'^name = "([^"]+)"', project, re.M).group(1)
    version = re.search(r'^__version__ = "([^"]+)"', (ROOT / "gitreg/version.py").read_text(), re.M).group(1)
    return name, version


def test_the_distribution_name_is_not_the_unrelated_gitreg_and_is_used_everywhere() -> None:
    name, _ = _distribution()
    # `gitreg` on the public package index is an unrelated project: installing it runs a stranger's code.
    assert name != "gitreg" and name == "gitreg-registry"
    files = [README, *DOCS.rglob("*.md"), *(ROOT / "examples").rglob("*"), *(ROOT / "gitreg").rglob("*.py")]
    foreign = re.compile(r"pip install\s+(?:-\S+\s+)*['\"]?gitreg(?:\[[^\]]*\])?['\"]?(?![\w.-])|['\"`]gitreg\[")
    offenders = [f"{path.relative_to(ROOT)}: {m.group(0)}" for path in files if path.is_file()
                 and path.suffix in {".md", ".py", ".yml", ".yaml", ".sh"}
                 for text in [path.read_text()] for m in foreign.finditer(text)
                 if text[max(0, m.start() - 7):m.start()].lower() != "never `"]  # the warning itself
    assert not offenders, "these install the unrelated `gitreg` distribution:\n" + "\n".join(offenders)
    assert f"`{name}`" in README.read_text()


def _pip_installs(workflow: Path) -> list[str]:
    import yaml

    data = yaml.safe_load(workflow.read_text())
    scripts = [step.get("run", "") for job in data["jobs"].values() for step in job.get("steps", [])]
    return [line.strip() for script in scripts for line in script.splitlines() if "pip install" in line]


def _pinned_own(install: str, name: str, version: str) -> bool:
    requirement = install.split("pip install", 1)[1].strip().strip("'\"")
    git_pin = re.fullmatch(re.escape(name) + r" @ git\+https://\S+@[0-9a-f]{40}", requirement)
    return bool(git_pin) or requirement == f"{name}=={version}"


def test_example_workflows_install_this_project_pinned() -> None:
    name, version = _distribution()
    workflows = sorted((ROOT / "examples/github").glob("*.yml"))
    assert workflows
    for workflow in workflows:
        installs = _pip_installs(workflow)
        assert installs, f"{workflow.name} installs nothing?"
        for install in installs:
            assert _pinned_own(install, name, version), f"{workflow.name}: {install}"


def test_the_pin_rule_refuses_foreign_and_moving_installs() -> None:
    name, version = _distribution()
    sha = "0123456789abcdef0123456789abcdef01234567"
    assert _pinned_own(f'pip install "{name} @ git+https://github.com/o/gitreg@{sha}"', name, version)
    assert _pinned_own(f"pip install {name}=={version}", name, version)
    for bad in ("pip install gitreg", "pip install gitreg==0.1.0", f"pip install {name}",
                f'pip install "{name} @ git+https://github.com/o/gitreg@main"',
                f'pip install "gitreg @ git+https://github.com/o/gitreg@{sha}"', f"pip install {name}>={version}"):
        assert not _pinned_own(bad, name, version), bad


def test_the_version_is_the_distributions() -> None:
    import gitreg

    _, version = _distribution()
    assert gitreg.__version__ == version
    proc = subprocess.run([str(Path(sys.executable).parent / "gitreg"), "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == f"gitreg {version}"
