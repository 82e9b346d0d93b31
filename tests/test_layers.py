"""The repository's layers point one way: the tests may import anything, nothing imports the tests."""

import ast

from stack.local import ROOT

PRODUCT_AND_TOOLS = ("auth_server", "resource_api", "consumer_demo", "stack", "loadtest", "docker", "redis", "nginx",
                     "observability")


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


def requirement_names(path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            names |= requirement_names(path.parent / line[3:].strip())
        elif line and not line.startswith("-"):
            names.add(line.split("==")[0].split("[")[0].lower())
    return names


def test_make_up_installs_only_what_running_the_stack_needs():
    stack = requirement_names(ROOT / "requirements-stack.txt")
    assert stack >= {"django", "gunicorn", "supervisor"}
    assert not stack & {"pytest", "locust", "playwright", "schemathesis", "matplotlib", "hypothesis"}
    assert requirement_names(ROOT / "requirements-dev.txt") >= stack | {"pytest", "locust", "playwright"}
    bootstrap = (ROOT / "stack" / "bootstrap.sh").read_text()
    base = bootstrap[bootstrap.index("declare -A needs=("):bootstrap.index(")\n", bootstrap.index("declare -A needs=("))]
    assert "nginx" in base and "chromium" not in base and "valgrind" not in base
