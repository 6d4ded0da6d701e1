"""Secrets are compared in constant time: no `==` / `!=` on anything named like a secret
anywhere in gateway/ (checked on the source with `ast`, so new code is covered too), and
the comparisons that check what a caller sent use hmac.compare_digest."""
from __future__ import annotations

import ast
import re
from pathlib import Path

GATEWAY = Path(__file__).resolve().parent.parent / "gateway"
SECRET_NAME = re.compile(r"password|secret|token|signature|digest|api_key|key_hash|\bmac\b",
                         re.IGNORECASE)
# (file, function): why an equality on a secret-looking name there is not a secret check
ALLOWED = {
    ("http/auth.py", "_basic"): "compares two stored password hashes (did the password "
                                "change since the cache entry?), nothing the caller sent",
    ("core/credentials.py", "_remembers"): "ties a remembered login to the stored hash it "
                                           "was verified against: two stored hashes",
    ("core/credentials.py", "_remember"): "the same, when a remembered login is replaced",
}
# where a caller's secret meets ours: each must go through hmac.compare_digest
CHECKS = {
    ("core/passwords.py", "verify_password"): "SMPP bind and HTTP Basic passwords",
    ("http/admin.py", "_denied"): "the admin API's bearer token",
    ("http/signing.py", "verify"): "webhook signatures",
}


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return _name(node.func)
    if isinstance(node, ast.Subscript):
        return _name(node.value)
    return ""


def _functions(tree: ast.AST):
    """(enclosing function name, node) for every node of the module."""
    def walk(node: ast.AST, function: str):
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) \
                else function
            yield inner, child
            yield from walk(child, inner)
    yield from walk(tree, "")


def _modules():
    for path in sorted(GATEWAY.rglob("*.py")):
        yield path.relative_to(GATEWAY).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def test_no_secret_is_compared_with_equality_operators():
    found = []
    for relative, tree in _modules():
        for function, node in _functions(tree):
            if not isinstance(node, ast.Compare):
                continue
            if not any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
                continue
            operands = [node.left, *node.comparators]
            if any(isinstance(o, ast.Constant) for o in operands):
                continue  # e.g. `token == ""`: a presence check, not a secret comparison
            if any(SECRET_NAME.search(_name(o)) for o in operands) \
                    and (relative, function) not in ALLOWED:
                found.append(f"{relative}:{node.lineno} in {function}(): {ast.unparse(node)}")
    assert not found, "use hmac.compare_digest for secrets:\n" + "\n".join(found)


def test_every_check_of_a_callers_secret_uses_hmac_compare_digest():
    seen = set()
    for relative, tree in _modules():
        for function, node in _functions(tree):
            if (relative, function) in CHECKS and isinstance(node, ast.Call) \
                    and ast.unparse(node.func) == "hmac.compare_digest":
                seen.add((relative, function))
    missing = {CHECKS[key] for key in CHECKS.keys() - seen}
    assert not missing, f"not compared with hmac.compare_digest: {sorted(missing)}"


def test_the_allowed_exceptions_still_exist():
    """An allow-list entry whose code moved would silently widen the exemption."""
    present = {(relative, function) for relative, tree in _modules()
               for function, _ in _functions(tree)}
    assert ALLOWED.keys() <= present, ALLOWED.keys() - present
