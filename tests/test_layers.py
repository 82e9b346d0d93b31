"""The repository's layers point one way: the tests may import anything, nothing imports the tests."""

import ast

from stack.local import ROOT

PRODUCT_AND_TOOLS = ("auth_server", "resource_api", "consumer_demo", "stack", "loadtest", "docker", "redis", "nginx")


def imported_modules(path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module)
    return modules


def test_nothing_outside_tests_imports_the_tests():
    offenders = {}
    for top in PRODUCT_AND_TOOLS:
        for path in (ROOT / top).rglob("*.py"):
            found = {m for m in imported_modules(path) if m == "tests" or m.startswith("tests.")}
            if found:
                offenders[str(path.relative_to(ROOT))] = sorted(found)
    assert not offenders
