"""What of a notebook's earlier cells the grader runs before an exercise cell: its imports and constants.

A student runs the notebook from the top, so an answer may rely on an ``import`` or a constant
(``SCALE = 64``) of an earlier cell. The grader runs only the exercise cell, in a sandbox; before it,
it runs the top-level statements of the earlier code cells that are safe to run anywhere:

- ``import x``, ``import x as y``, ``from x import y`` (absolute; also when written after a semicolon or
  over several lines in brackets), and
- assignments of a literal (numbers, strings, tuples, lists, dicts and sets of literals) to plain names,
  as long as no later top-level statement assigns that name otherwise.

Nothing else of those cells runs: no function calls, no file or network access, no loops. What an
answer needs beyond that (a model loaded in an earlier cell, a helper function) must be in the exercise
cell itself, as the student version says above each exercise.
"""

import ast

from helpers.grading.assignments import exercise_name

#: Bounds on the statements taken from earlier cells.
MAX_STATEMENTS, MAX_STATEMENT_CHARS = 50, 200
#: Bounds on what is read of the earlier cells: characters of one cell, top-level statements in all.
MAX_CELL_CHARS, MAX_READ = 100_000, 2_000


def _literal(node):
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _names(target):
    """The plain names ``target`` assigns, or None when it assigns anything else (an attribute, an item)."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        names = [_names(t) for t in target.elts]
        return None if any(n is None for n in names) else [n for group in names for n in group]
    return None


def _assigned(node):
    """Names a top-level statement (re)binds, by any means (for forgetting a constant it overwrites)."""
    names = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            names.add(sub.id)
        elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(sub.name)
        elif isinstance(sub, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in sub.names)
    return names


def _parsed(source):
    """The cell's top-level statements: parsed whole when it is Python; a cell with IPython syntax (``%magic``,
    ``!cmd``) line by line, keeping the lines that are statements by themselves (IPython's own transformer is
    not run here, before the sandbox: on a crafted cell it takes minutes)."""
    try:
        return ast.parse(source).body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        statements = []
        for line in source.splitlines():
            if line[:1].isspace() or not line.strip():
                continue
            try:
                statements += ast.parse(line).body
            except (SyntaxError, ValueError, MemoryError, RecursionError):  # a magic, or part of a longer statement
                continue
        return statements


def _statements(source):
    """``[(kind, text, names)]`` of one cell's top-level statements: ``import``, ``constant`` or ``other``."""
    found = []
    for node in _parsed(source):
        try:
            text = ast.unparse(node)
            names = _assigned(node)
        except (RecursionError, MemoryError, ValueError):  # deeply nested: not a statement to run, but it binds
            found.append(("other", "", {t.id for t in ast.walk(node) if isinstance(t, ast.Name)}))
            continue
        if isinstance(node, ast.Import) or (isinstance(node, ast.ImportFrom) and node.level == 0):
            kind = "import" if "*" not in text else "other"
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None and _literal(node.value):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            kind = "constant" if all(_names(t) is not None for t in targets) else "other"
        else:
            kind = "other"
        found.append((kind, text, names))
    return found


def notebook_preamble(nb, name):
    """The imports and literal constants of the code cells before exercise ``name``'s cell, in order.

    Args:
        nb: the submitted notebook (nbformat).
        name: the exercise.

    Returns:
        list of statements (each at most :data:`MAX_STATEMENT_CHARS` characters, at most
        :data:`MAX_STATEMENTS` of them) to run before the exercise cell; a constant that a later
        statement overwrites by other means is left out. Bounded work before the sandbox: a cell
        longer than :data:`MAX_CELL_CHARS` is not read, and at most :data:`MAX_READ` statements are.
    """
    kept, read = {}, 0  # statement -> the names it binds (insertion order is the notebook's)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if exercise_name(cell) == name:
            break
        if len(cell.source) > MAX_CELL_CHARS or read >= MAX_READ:
            continue
        for kind, text, names in _statements(cell.source)[:MAX_READ - read]:
            read += 1
            if kind == "other":
                for statement in [t for t, n in kept.items() if n & names and not t.startswith(("import ", "from "))]:
                    del kept[statement]
            elif len(text) <= MAX_STATEMENT_CHARS:
                kept.pop(text, None)
                kept[text] = names
                if len(kept) > 4 * MAX_STATEMENTS:  # more than could ever be run: the rest is not looked at
                    read = MAX_READ
                    break
    return list(kept)[:MAX_STATEMENTS]
