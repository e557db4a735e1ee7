"""The documentation stands alone: what the README and docs/ point to is in
the repository.

  (a) every relative link [text](target) or image ![alt](target) in a
      markdown file resolves to a file or directory of the repository, and an
      anchor (#section) into a markdown file matches one of its headings
      (GitHub's slugs: lowercase, spaces to '-', other punctuation dropped);
  (b) every markdown file name cited anywhere (C, headers, Python, shell,
      YAML, CMake, markdown, .clang-format) names a file the repository
      holds, and every "science.md section N" has a section N;
  (c) no file names a path on the machine it was written on (the absolute
      work directory) or outside the repository (the sibling "shared" tree).

The files are those of `git ls-files` (plus untracked files git does not
ignore) when OTD_SOURCE_DIR is a git checkout, else a walk of the tree. The
checks are plain functions, and CheckersFindProblems runs them on a small
tree with one problem of each kind, so that a check that silently passes
everything fails here."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

SOURCE = os.path.abspath(os.environ.get(
    "OTD_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))

# Files whose text is searched for cited markdown files (b).
CITING_SUFFIXES = (".c", ".h", ".md", ".py", ".sh", ".yaml", ".yml", ".cmake", ".sbatch")
CITING_NAMES = ("CMakeLists.txt", ".clang-format")

# Directories a walk skips (build outputs, caches, VCS data): .gitignore's.
SKIP_DIRS = re.compile(r"^(\.git|__pycache__|build.*|results|runs|otd-run-.*)$")

# (c): built from pieces so that this file does not contain what it looks for.
FORBIDDEN = [
    ("an absolute path into the work directory", re.compile(r"(^|[^A-Za-z0-9_.])" + "/" + "work/",
                                                            re.M)),
    ("a path to the sibling shared tree", re.compile(r"\.\./" + "shared")),
]

LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REF_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.M)
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")
CITED_MD = re.compile(r"[A-Za-z0-9_./-]*[A-Za-z0-9_-]\.md\b")
SCIENCE_SECTION = re.compile(r"science\.md(?:,)?\s+(?:section\s+)?(\d+)\b")


def repo_files(root):
    """Relative '/'-separated paths of the repository's files."""
    if os.path.exists(os.path.join(root, ".git")):
        try:
            out = subprocess.run(["git", "-C", root, "ls-files", "-z", "--cached", "--others",
                                  "--exclude-standard"], capture_output=True, check=True,
                                 timeout=60).stdout
            names = sorted({n for n in out.decode("utf-8", "replace").split("\0") if n})
            return [n for n in names if os.path.isfile(os.path.join(root, n))]
        except (OSError, subprocess.SubprocessError):
            pass
    files = []
    for top, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not SKIP_DIRS.match(d))
        for n in sorted(names):
            files.append(os.path.relpath(os.path.join(top, n), root).replace(os.sep, "/"))
    return files


def read_text(root, rel):
    """The file's text, or None for a binary file."""
    with open(os.path.join(root, rel), "rb") as f:
        data = f.read()
    if b"\0" in data:
        return None
    return data.decode("utf-8", "replace")


def strip_code(text, spans=True):
    """Markdown without fenced code blocks and (spans) inline code spans:
    links in code are not links. Line numbers are kept."""
    out, fence = [], None
    for line in text.split("\n"):
        m = re.match(r"^ {0,3}(`{3,}|~{3,})", line)
        if fence is None and m:
            fence = m.group(1)[0] * len(m.group(1))
            out.append("")
        elif fence is not None:
            if line.strip().startswith(fence):
                fence = None
            out.append("")
        elif spans:
            out.append(re.sub(r"(`+)(?:(?!\1).)+?\1", "", line))
        else:
            out.append(line)
    return "\n".join(out)


def slug(heading):
    """GitHub's anchor of a heading's text."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text).replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(text):
    """Every anchor a markdown text defines (headings, with GitHub's -1, -2
    for repeats; explicit <a name/id>)."""
    seen, out = {}, set()
    for line in strip_code(text, spans=False).split("\n"):
        m = HEADING.match(line)
        if m:
            s = slug(m.group(2))
            n = seen.get(s, 0)
            seen[s] = n + 1
            out.add(s if n == 0 else "%s-%d" % (s, n))
    out.update(HTML_ANCHOR.findall(text))
    return out


def inside(root, path):
    root, path = os.path.realpath(root), os.path.realpath(path)
    return path == root or path.startswith(root + os.sep)


def link_problems(root, files):
    """(a): broken relative links and anchors in the markdown files."""
    problems, anchor_cache = [], {}

    def anchors_of(path):
        if path not in anchor_cache:
            with open(path, encoding="utf-8", errors="replace") as f:
                anchor_cache[path] = anchors(f.read())
        return anchor_cache[path]

    for rel in files:
        if not rel.endswith(".md"):
            continue
        text = read_text(root, rel)
        if text is None:
            continue
        here = os.path.join(root, rel)
        body = strip_code(text)
        for lineno, line in enumerate(body.split("\n"), 1):
            targets = LINK.findall(line) + REF_DEF.findall(line)
            for target in targets:
                where = "%s:%d: link '%s'" % (rel, lineno, target)
                if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", target) or target.startswith("//"):
                    continue  # http:, https:, mailto:: not checked offline
                path, _, anchor = target.partition("#")
                dest = here if path == "" else os.path.normpath(
                    os.path.join(os.path.dirname(here), path))
                if not inside(root, dest):
                    problems.append("%s: leads outside the repository" % where)
                elif not os.path.exists(dest):
                    problems.append("%s: no such file" % where)
                elif anchor and dest.endswith(".md") and os.path.isfile(dest):
                    if anchor not in anchors_of(dest):
                        problems.append("%s: no heading '#%s' in %s"
                                        % (where, anchor, os.path.relpath(dest, root)))
    return problems


def citing(rel):
    base = rel.rsplit("/", 1)[-1]
    return base in CITING_NAMES or base.endswith(CITING_SUFFIXES)


def citation_problems(root, files):
    """(b): markdown files cited that the repository does not hold, and
    science.md sections cited that it does not have."""
    problems = []
    held = set(files)
    basenames = {f.rsplit("/", 1)[-1] for f in files}
    science = os.path.join(root, "docs", "science.md")
    sections = set()
    if os.path.isfile(science):
        with open(science, encoding="utf-8") as f:
            sections = {m.group(1) for m in re.finditer(r"^## (\d+)\.", f.read(), re.M)}
    for rel in files:
        if not citing(rel):
            continue
        text = read_text(root, rel)
        if text is None:
            continue
        for lineno, line in enumerate(text.split("\n"), 1):
            for m in CITED_MD.finditer(line):
                name = m.group(0)
                if name.startswith("//") or line[:m.start()].endswith(":"):
                    continue  # a URL
                while name.startswith("./"):
                    name = name[2:]
                if "/" in name:
                    near = os.path.normpath(os.path.join(os.path.dirname(rel), name))
                    ok = (os.path.normpath(name).replace(os.sep, "/") in held
                          or near.replace(os.sep, "/") in held)
                else:
                    ok = name in basenames
                if not ok:
                    problems.append("%s:%d: cites '%s', which the repository does not hold"
                                    % (rel, lineno, m.group(0)))
            for m in SCIENCE_SECTION.finditer(line):
                if m.group(1) not in sections:
                    problems.append("%s:%d: cites science.md section %s, which docs/science.md "
                                    "does not have (it has %s)"
                                    % (rel, lineno, m.group(1), ", ".join(sorted(sections))))
    return problems


def path_problems(root, files):
    """(c): paths on the writer's machine or outside the repository."""
    problems = []
    for rel in files:
        text = read_text(root, rel)
        if text is None:
            continue
        for what, pattern in FORBIDDEN:
            for m in pattern.finditer(text):
                lineno = text.count("\n", 0, m.start()) + 1
                line = text.split("\n")[lineno - 1].strip()
                problems.append("%s:%d: %s: %s" % (rel, lineno, what, line[:120]))
    return problems


class Docs(unittest.TestCase):
    """The checks on this repository."""

    @classmethod
    def setUpClass(cls):
        cls.files = repo_files(SOURCE)

    def assertNone(self, problems):
        self.assertEqual(problems, [], "\n" + "\n".join(problems))

    def test_docs_present(self):
        for name in ("README.md", "science.md", "file-formats.md", "reliability.md",
                     "performance.md", "platform.md", "style.md"):
            self.assertIn("docs/" + name, self.files)
        self.assertIn("README.md", self.files)

    def test_links_resolve(self):
        md = [f for f in self.files if f.endswith(".md")]
        self.assertIn("README.md", md)
        self.assertNone(link_problems(SOURCE, self.files))

    def test_cited_files_exist(self):
        self.assertNone(citation_problems(SOURCE, self.files))

    def test_no_machine_paths(self):
        self.assertNone(path_problems(SOURCE, self.files))


class CheckersFindProblems(unittest.TestCase):
    """Each check, run on a small tree with one problem of each kind, finds
    exactly those problems: none of them passes everything."""

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="otd-docs-test-")
        self.addCleanup(shutil.rmtree, self.root, True)

    def write(self, rel, text):
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)

    def test_each_check_fails_on_its_problem(self):
        md = ".md"
        self.write("docs/science" + md, "# Science\n\n## 1. Problem\n\n## 2. Models: T(W)\n")
        self.write("README" + md, "\n".join([
            "[ok](docs/science.md) [ok](docs/science.md#2-models-tw) [ok](#readme)",
            "![ok](docs/) `[code](nowhere.txt)` [web](https://example.org/README.md)",
            "# README",
            "[missing](docs/gone.txt)",
            "[anchor](docs/science.md#3-engines)",
            "![image](pic.png)",
            "[out](../../elsewhere.txt)",
            "```",
            "[in a fence](nowhere.txt)",
            "```",
            "",
        ]))
        self.write("src/a.c", "/* see docs/science.md section 2, CONTRACT%s and README%s */\n"
                   "/* science.md section %d */\n" % (md, md, 7))
        self.write("src/b.py", "# nothing wrong here: docs/science.md, ../README%s\n" % md)
        self.write("jobs/c.sh", "# see %s\n" % ("/" + "work/" + "x/y"))
        self.write("jobs/d.yaml", "# fine: /home/work/x and a/work/y\n# bad: ..%s\n"
                   % ("/" + "shared/z"))
        files = repo_files(self.root)

        links = link_problems(self.root, files)
        self.assertEqual(len(links), 4, links)
        for want in ("README.md:4: link 'docs/gone.txt': no such file",
                     "README.md:5: link 'docs/science.md#3-engines': no heading '#3-engines'",
                     "README.md:6: link 'pic.png': no such file",
                     "README.md:7: link '../../elsewhere.txt': leads outside the repository"):
            self.assertTrue(any(p.startswith(want) for p in links), (want, links))

        cites = citation_problems(self.root, files)
        self.assertEqual(len(cites), 2, cites)
        self.assertIn("src/a.c:1: cites 'CONTRACT%s'" % md, cites[0])
        self.assertIn("src/a.c:2: cites science.md section %d" % 7, cites[1])

        paths = path_problems(self.root, files)
        self.assertEqual(len(paths), 2, paths)
        self.assertTrue(paths[0].startswith("jobs/c.sh:1: an absolute path"), paths)
        self.assertTrue(paths[1].startswith("jobs/d.yaml:2: a path to the sibling"), paths)

    def test_slugs(self):
        self.assertEqual(slug("5. Experiments E0–E4"), "5-experiments-e0e4")
        self.assertEqual(slug("Sweeps: many runs, one table"), "sweeps-many-runs-one-table")
        self.assertEqual(slug("What a run writes: `results.h5`"), "what-a-run-writes-resultsh5")
        self.assertEqual(slug("summary.csv and summary.h5"), "summarycsv-and-summaryh5")
        self.assertEqual(anchors("# A\n## A\n```\n# B\n```\n## `otd bench`\n"),
                         {"a", "a-1", "otd-bench"})


if __name__ == "__main__":
    unittest.main()
