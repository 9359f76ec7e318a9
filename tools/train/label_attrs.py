"""Attribute labeller for GeDi steering (owns: what `documented`, `typed`, `safe` MEAN).

Labels every top-level function and every method of a top-level class (nested functions count
as part of their enclosing unit) with checkable, syntactic attributes:

  documented  the function has a docstring, or a `#` comment on a line from `def` to its last
              statement
  typed       every parameter (except a leading `self`/`cls`, including *args/**kwargs) is
              annotated AND there is a return annotation
  safe        no call to a dangerous API (see UNSAFE_* below): eval/exec, os.system/popen/exec*/
              spawn*, pickle/marshal/dill loads, subprocess with shell=True, yaml.load without a
              safe loader, __import__/importlib.import_module of a non-literal name, …

Design: ATTRIBUTES is the registry of attribute names → (description, control codes);
LABELLERS maps a language to a labeller whose `predicates` dict has one entry per attribute.
A new attribute = one ATTRIBUTES entry + one predicate; a new language = one new labeller class.
The TypeScript port (src/engine/steering/labels.ts, tree-sitter) implements the same rules for
evaluating generated code; test/unit/steering/labels.test.ts checks that both agree.

CLI:  label_attrs.py FILE...            one JSON line per function unit
      label_attrs.py --json-source       read {"id","text"} JSON lines on stdin, write labels
      label_attrs.py --self-test
"""
from __future__ import annotations

import ast
import io
import json
import re
import sys
import tokenize
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional


@dataclass(frozen=True)
class Attribute:
    name: str
    description: str
    positive_code: str
    negative_code: str


# The registry. Order is the manifest's order (and the sidebar's).
ATTRIBUTES: Dict[str, Attribute] = {
    "documented": Attribute("documented", "Functions carry a docstring or comments",
                            "<|documented|>", "<|undocumented|>"),
    "typed": Attribute("typed", "Parameters and return values are type-annotated",
                       "<|typed|>", "<|untyped|>"),
    "safe": Attribute("safe", "No dangerous APIs (eval/exec, pickle.loads, os.system, shell=True, …)",
                      "<|safe|>", "<|unsafe|>"),
}

# ---- the rules of `safe` (mirrored in labels.ts: keep both in sync) ----
# Dotted callee names that are always unsafe.
UNSAFE_CALLS = frozenset({
    "eval", "exec", "builtins.eval", "builtins.exec",
    "os.system", "os.popen", "os.popen2", "os.popen3", "os.popen4",
    "pickle.loads", "pickle.load", "cPickle.loads", "cPickle.load", "_pickle.loads", "_pickle.load",
    "dill.loads", "dill.load", "marshal.loads", "marshal.load", "shelve.open",
    "yaml.unsafe_load", "yaml.unsafe_load_all",
    "subprocess.getoutput", "subprocess.getstatusoutput", "commands.getoutput",
    "commands.getstatusoutput", "pty.spawn", "tempfile.mktemp",
})
# os.execv, os.execlpe, os.spawnv, … (process replacement / spawning by path).
UNSAFE_CALL_RE = re.compile(r"^os\.(exec[lv]p?e?|spawn[lv]p?e?)$")
# Callees that run a shell when called with shell=True.
SHELL_CALLEES = frozenset({"call", "check_call", "check_output", "run", "Popen"})
# yaml.load / yaml.load_all are unsafe unless a Safe* loader is named.
YAML_LOADS = frozenset({"yaml.load", "yaml.load_all"})
# Importing a module whose name is not a literal.
DYNAMIC_IMPORTS = frozenset({"__import__", "importlib.import_module"})


def dotted_name(node: ast.AST) -> Optional[str]:
    """`a.b.c` for Name/Attribute chains; None for anything else (calls, subscripts…)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _is_literal_string(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def unsafe_call(call: ast.Call) -> Optional[str]:
    """The reason a call is unsafe, or None."""
    name = dotted_name(call.func)
    if name is None:
        return None
    if name in UNSAFE_CALLS or UNSAFE_CALL_RE.match(name):
        return name
    last = name.rsplit(".", 1)[-1]
    if name.startswith("subprocess.") or last in SHELL_CALLEES:
        for kw in call.keywords:
            if kw.arg == "shell" and isinstance(kw.value, ast.Constant) and kw.value.value is True:
                return f"{name}(shell=True)"
    if name in YAML_LOADS:
        loader = None
        for kw in call.keywords:
            if kw.arg == "Loader":
                loader = kw.value
        if loader is None and len(call.args) >= 2:
            loader = call.args[1]
        loader_name = dotted_name(loader) if loader is not None else None
        if loader_name is None or "Safe" not in loader_name.rsplit(".", 1)[-1]:
            return f"{name} without SafeLoader"
    if name in DYNAMIC_IMPORTS:
        if not call.args or not _is_literal_string(call.args[0]):
            return f"{name}(<dynamic>)"
    return None


@dataclass
class FunctionUnit:
    name: str
    qualname: str
    start_line: int  # 1-based line of `def` (after decorators)
    end_line: int  # 1-based line of the last statement
    node: ast.AST
    source_lines: List[str] = field(repr=False)
    comment_lines: frozenset = field(repr=False, default=frozenset())

    @property
    def text(self) -> str:
        return "".join(self.source_lines[self.start_line - 1:self.end_line])


class PythonLabeller:
    """Function units and attribute predicates for Python, with the standard `ast` module."""

    language = "python"

    def __init__(self) -> None:
        self.predicates: Dict[str, Callable[[FunctionUnit], bool]] = {
            "documented": self.documented,
            "typed": self.typed,
            "safe": self.safe,
        }

    # ---- units ----
    def units(self, source: str) -> List[FunctionUnit]:
        """Top-level functions and methods of top-level classes. Raises SyntaxError."""
        tree = ast.parse(source)
        lines = source.splitlines(keepends=True)
        comments = _comment_lines(source)
        out: List[FunctionUnit] = []

        def add(fn, qual):
            out.append(FunctionUnit(fn.name, qual, fn.lineno, fn.end_lineno or fn.lineno, fn,
                                    lines, comments))

        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                add(node, node.name)
            elif isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        add(item, f"{node.name}.{item.name}")
        return out

    # ---- predicates ----
    @staticmethod
    def documented(u: FunctionUnit) -> bool:
        body = u.node.body
        if body and isinstance(body[0], ast.Expr) and _is_literal_string(body[0].value):
            return True
        return any(u.start_line <= ln <= u.end_line for ln in u.comment_lines)

    @staticmethod
    def typed(u: FunctionUnit) -> bool:
        a = u.node.args
        positional = list(a.posonlyargs) + list(a.args)
        if positional and positional[0].arg in ("self", "cls"):
            positional = positional[1:]
        params = positional + list(a.kwonlyargs)
        if a.vararg is not None:
            params.append(a.vararg)
        if a.kwarg is not None:
            params.append(a.kwarg)
        return u.node.returns is not None and all(p.annotation is not None for p in params)

    @staticmethod
    def safe(u: FunctionUnit) -> bool:
        return not unsafe_reasons(u.node)

    def label(self, source: str) -> List[dict]:
        """One dict per unit: name, qualname, start/end lines (1-based), labels."""
        res = []
        for u in self.units(source):
            labels = {k: bool(p(u)) for k, p in self.predicates.items()}
            res.append({"name": u.name, "qualname": u.qualname, "start": u.start_line,
                        "end": u.end_line, "labels": labels})
        return res


def unsafe_reasons(node: ast.AST) -> List[str]:
    out = []
    for n in ast.walk(node):
        if isinstance(n, ast.Call):
            r = unsafe_call(n)
            if r:
                out.append(r)
    return out


def _comment_lines(source: str) -> frozenset:
    lines = set()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                lines.add(tok.start[0])
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return frozenset(lines)


LABELLERS = {"python": PythonLabeller}


def labeller_for(language: str):
    if language not in LABELLERS:
        raise KeyError(f"no attribute labeller for language {language!r}; known: {sorted(LABELLERS)}")
    return LABELLERS[language]()


# ---------------------------------------------------------------- self-test
_SELF_TEST = [
    ("def f(x):\n    return x\n", {"documented": False, "typed": False, "safe": True}),
    ('def f(x: int) -> int:\n    """Doc."""\n    return x\n', {"documented": True, "typed": True, "safe": True}),
    ("def f(self, *a: int, **k: str) -> None:\n    # why\n    pass\n", {"documented": True, "typed": True, "safe": True}),
    ("def f(a: int, b) -> None:\n    pass\n", {"documented": False, "typed": False, "safe": True}),
    ("def f(s):\n    return eval(s)\n", {"documented": False, "typed": False, "safe": False}),
    ("def f(c):\n    subprocess.run(c, shell=True)\n", {"documented": False, "typed": False, "safe": False}),
    ("def f(c):\n    subprocess.run(c, shell=False)\n", {"documented": False, "typed": False, "safe": True}),
    ("def f(s):\n    return yaml.load(s)\n", {"documented": False, "typed": False, "safe": False}),
    ("def f(s):\n    return yaml.load(s, Loader=yaml.SafeLoader)\n", {"documented": False, "typed": False, "safe": True}),
    ("def f(n):\n    return __import__(n)\n", {"documented": False, "typed": False, "safe": False}),
    ("def f():\n    return __import__('os')\n", {"documented": False, "typed": False, "safe": True}),
    ("def f() -> None:\n    os.execvp('a', [])\n", {"documented": False, "typed": True, "safe": False}),
]


def self_test() -> int:
    lab = PythonLabeller()
    bad = 0
    for src, want in _SELF_TEST:
        got = lab.label(src)[0]["labels"]
        if got != want:
            bad += 1
            print(f"FAIL {src!r}: got {got}, want {want}")
    src = "class A:\n    def m(self):\n        def inner(): eval('1')\n        return 1\n\ndef g():\n    pass\n"
    names = [(u["qualname"], u["labels"]["safe"]) for u in lab.label(src)]
    if names != [("A.m", False), ("g", True)]:
        bad += 1
        print(f"FAIL units: {names}")
    print("self-test:", "ok" if not bad else f"{bad} failures")
    return 1 if bad else 0


def main(argv: List[str]) -> int:
    if argv[:1] == ["--self-test"]:
        return self_test()
    lab = PythonLabeller()
    if argv[:1] == ["--json-source"]:
        for line in sys.stdin:
            if not line.strip():
                continue
            d = json.loads(line)
            try:
                units = lab.label(d["text"])
                out = {"id": d.get("id"), "units": units}
            except (SyntaxError, ValueError) as e:
                out = {"id": d.get("id"), "error": f"{type(e).__name__}: {e}"}
            sys.stdout.write(json.dumps(out) + "\n")
        return 0
    if not argv:
        print(__doc__)
        return 2
    for path in argv:
        with open(path, encoding="utf-8") as f:
            src = f.read()
        try:
            for u in lab.label(src):
                sys.stdout.write(json.dumps({"file": path, **u}) + "\n")
        except (SyntaxError, ValueError) as e:
            print(f"{path}: cannot parse: {e}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
