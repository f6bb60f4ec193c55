"""The public examples of the students' practice checks: ``python -m helpers.grading.references.examples``.

For every exercise, the inputs of its checks drawn from the public seed :data:`PUBLIC_SEED` and the
values the grader's references expect for them are written to ``helpers/grading/examples/``: one
``NAME.npz`` (arrays, numbers and expected values), one ``NAME.json`` (argument kinds, tolerances,
descriptions, ``needs``) and one ``NAME__i__j.keras`` per check network. Students get these files,
never the references; the grader draws fresh inputs from a secret per submission, so knowing the
examples earns nothing. ``--verify`` fails (exit 1) when the stored expected values no longer agree
with the references.
"""

import argparse
import json
import sys

import numpy as np

from helpers.grading.compare import recording
from helpers.grading.exercises import EXAMPLES, EXERCISES, argument_kind, examples
from helpers.grading.references import CHECKS, check_inputs

#: The seed of the public examples (the grader never uses it for a submission: its seeds are secret).
PUBLIC_SEED = 20260101


def expected_values(name, inputs):
    """``[(expected array, atol, description)]`` per check: what the check's verification compares with."""
    found = []
    for check, arguments in zip(CHECKS[name], inputs):
        with recording() as compared:
            try:
                check.verify(np.full((1,), np.nan), *arguments)  # a wrong answer: the comparison is recorded
            except AssertionError:
                refused = True
            else:
                refused = False
        if not refused:
            raise RuntimeError(f"{name} / {check.what}: its verification accepts a NaN answer")
        if len(compared) != 1:
            raise RuntimeError(f"{name} / {check.what}: its verification makes {len(compared)} comparisons, not 1")
        found.append(compared[0])
    return found


def write(name, directory=EXAMPLES):
    """Write the public examples of exercise ``name``; return the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    inputs = check_inputs(name, PUBLIC_SEED)
    arrays, kinds, written = {}, [], []
    for index, arguments in enumerate(inputs):
        kinds.append([argument_kind(a) for a in arguments])
        for j, argument in enumerate(arguments):
            key = f"{name}__{index}__{j}"
            if kinds[-1][j] == "model":
                argument.save(directory / f"{key}.keras")
                written.append(directory / f"{key}.keras")
            else:
                arrays[key] = np.asarray(argument)
    compared = expected_values(name, inputs)
    for index, (expected, _, _) in enumerate(compared):
        arrays[f"{name}__expected__{index}"] = expected
    np.savez_compressed(directory / f"{name}.npz", **arrays)
    meta = {"kinds": kinds, "atol": [atol for _, atol, _ in compared], "what": [what for _, _, what in compared],
            "needs": {c.what: c.needs for c in CHECKS[name] if c.needs}, "seed": PUBLIC_SEED}
    (directory / f"{name}.json").write_text(json.dumps(meta, indent=1) + "\n")
    return written + [directory / f"{name}.npz", directory / f"{name}.json"]


def disagreements(name):
    """Checks whose stored expected value differs from the references' value on the stored inputs."""
    inputs, expected, meta = examples(name)
    problems = []
    for check, value, (now, atol, _) in zip(CHECKS[name], expected, expected_values(name, inputs)):
        if value.shape != now.shape or not np.allclose(value, now, rtol=0, atol=max(atol, 1e-9) / 10):
            problems.append(f"{name} / {check.what}: the stored expected value is out of date")
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verify", action="store_true", help="fail if the stored examples disagree")
    args = parser.parse_args(argv)
    if args.verify:
        problems = [p for name in EXERCISES for p in disagreements(name)]
        print("\n".join(problems) or f"the public examples in {EXAMPLES} agree with the references")
        return 1 if problems else 0
    for name in EXERCISES:
        for path in write(name):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
