"""Exercises, student versions and the grader, on the real chapters and on broken submissions."""

import json
import pathlib

import nbformat
import numpy as np
import pytest

from helpers.grading import assignments, exercises, grade, references
from helpers.grading import submission as submitted
from helpers.grading import report as report_files

pytestmark = pytest.mark.usefixtures("bubblewrap")
REPO = pathlib.Path(__file__).parents[1]
NOTEBOOKS = REPO / "notebooks"
CHAPTERS = sorted(p.name for p in NOTEBOOKS.glob("0[1-5]_*.ipynb"))


def test_every_exercise_is_in_its_chapter_once():
    for name, exercise in exercises.EXERCISES.items():
        [path] = NOTEBOOKS.glob(f"{exercise.chapter}_*.ipynb")
        cells = [c for c in nbformat.read(path, as_version=4).cells if assignments.exercise_name(c) == name]
        assert len(cells) == 1, (name, path.name)
        assert exercises.BEGIN in cells[0].source and exercises.END in cells[0].source


def _normalize_128_or_255(c):
    return np.full(np.shape(c), 128 if np.ptp(c) == 0 else 255, np.uint8)


#: For every exercise, wrong but plausible answers (a sign instead of the optimum, constants,
#: shortcuts, a transposed or summed result): each must score 0 on every seed.
WRONG = {
    "most_confident_mistakes": {
        "most confident overall": lambda m, x, y, n: _mistakes(m, x, y, n, variant="all images"),
        "least confident first": lambda m, x, y, n: _mistakes(m, x, y, n, variant="ascending"),
        "in index order": lambda m, x, y, n: _mistakes(m, x, y, n, variant="index order"),
        "lowest probability of the true class": lambda m, x, y, n: _mistakes(m, x, y, n, variant="true class"),
    },
    "normalize_feature_map": {
        "min-max stretch": lambda c: ((c - c.min()) / (np.ptp(c) or 1) * 255).astype(np.uint8),
        "128 for a flat map, 255 otherwise": _normalize_128_or_255,
        "no clipping": lambda c: ((c - c.mean()) / (c.std() or 1) * 64 + 128),
    },
    "receptive_field_size": {
        "strides left out": lambda m, layer: _field(m, layer, variant="no strides"),
        "dilation left out": lambda m, layer: _field(m, layer, variant="no dilation"),
        "square kernels": lambda m, layer: _field(m, layer, variant="square"),
        "the last layer's field": lambda m, layer: _field(m, "", variant="right"),
        "the layer's output shape": lambda m, layer: tuple(m.get_layer(layer).output.shape[1:3]),
    },
    "regularized_class_ascent": {
        "the probability instead of the logit": lambda *a: _class_ascent(*a, variant="probability"),
        "no jitter": lambda *a: _class_ascent(*a, variant="no jitter"),
        "rows and columns swapped": lambda *a: _class_ascent(*a, variant="swapped"),
        "the regularizer added": lambda *a: _class_ascent(*a, variant="plus"),
        "total variation as sums": lambda *a: _class_ascent(*a, variant="sums"),
    },
    "score_cam_map": {
        "Grad-CAM instead": lambda m, x, layer, c: _plus_plus(m, x, layer, c, weights="mean"),
        "logits instead of probabilities": lambda m, x, layer, c: _score_cam(m, x, layer, c, variant="logits"),
        "no black baseline": lambda m, x, layer, c: _score_cam(m, x, layer, c, variant="no baseline"),
        "the maps themselves as masks": lambda m, x, layer, c: _score_cam(m, x, layer, c, variant="raw masks"),
    },
    "channel_means": {
        "the model's output": lambda m, layer, x: np.asarray(m(x)).mean(axis=0),
        "largest activation": lambda m, layer, x: _layer(m, layer, x).max(axis=tuple(range(_layer(m, layer, x).ndim - 1))),
        "the next layer": lambda m, layer, x: _mean_but_last(_layer(m, m.layers[[l.name for l in m.layers].index(layer) + 1].name, x)),
    },
    "neuron_ascent": {
        "no clipping": lambda *a: _ascent(*a, variant="no clip"),
        "no normalization": lambda *a: _ascent(*a, variant="raw gradient"),
        "descent": lambda *a: _ascent(*a, variant="descent"),
        "the channel's mean instead of the unit": lambda *a: _ascent(*a, variant="channel mean"),
    },
    "grad_cam_plus_plus_map": {
        "plain Grad-CAM": lambda m, x, layer, c: _plus_plus(m, x, layer, c, weights="mean"),
        "no ReLU on the gradient": lambda m, x, layer, c: _plus_plus(m, x, layer, c, weights="no relu"),
        "alpha one half": lambda m, x, layer, c: _plus_plus(m, x, layer, c, weights="half"),
    },
}


def _score_cam(model, images, layer, class_index, variant="right"):
    import keras
    maps = _layer(model, layer, images).astype(np.float64)
    low, high = maps.min(axis=(1, 2), keepdims=True), maps.max(axis=(1, 2), keepdims=True)
    masks = maps if variant == "raw masks" else np.divide(maps - low, high - low, out=np.zeros_like(maps),
                                                          where=high > low)
    score = lambda x: np.asarray(model(x) if variant == "logits" else keras.ops.softmax(model(x)))[:, class_index]
    black = 0.0 if variant == "no baseline" else score(np.zeros_like(images[:1]))
    weights = np.stack([score(images[i][None] * np.moveaxis(masks[i], -1, 0)[..., None]) for i in range(len(images))])
    return np.maximum(np.einsum("nhwk,nk->nhw", maps, weights - black), 0)


def _class_ascent(model, class_index, start, shifts, tv_weight, step_size, variant="right"):
    import keras
    import tensorflow as tf
    dense, features = model.get_layer("scores"), keras.Model(model.input, model.get_layer("scores").input)
    x = tf.Variable(tf.constant(start, tf.float32))
    mean = tf.reduce_sum if variant == "sums" else tf.reduce_mean
    for dy, dx in shifts:
        shift = {"no jitter": [0, 0], "swapped": [int(dx), int(dy)]}.get(variant, [int(dy), int(dx)])
        with tf.GradientTape() as tape:
            moved = tf.roll(x, shift, axis=[1, 2])
            score = model(moved) if variant == "probability" else features(moved) @ dense.kernel + dense.bias
            tv = mean(tf.abs(x[:, 1:] - x[:, :-1])) + mean(tf.abs(x[:, :, 1:] - x[:, :, :-1]))
            objective = score[0, class_index] + (1 if variant == "plus" else -1) * tv_weight * tv
        g = tape.gradient(objective, x)
        x.assign(tf.clip_by_value(x + step_size * tf.math.divide_no_nan(g, tf.norm(g)), 0.0, 1.0))
    return x.numpy()


def _mistakes(model, images, labels, n, variant="right"):
    p = np.asarray(model(images), np.float64)
    wrong = np.arange(len(p)) if variant == "all images" else np.flatnonzero(p.argmax(1) != labels)
    key = {"ascending": p.max(1)[wrong], "index order": wrong,
           "true class": p[wrong, labels[wrong]]}.get(variant, -p.max(1)[wrong])
    return wrong[np.argsort(key, kind="stable")][:n]


def _field(model, layer, variant="right"):
    import keras
    size, jump = [1, 1], [1, 1]
    for current in model.layers:
        if isinstance(current, (keras.layers.Conv2D, keras.layers.MaxPooling2D)):
            kernel = list(getattr(current, "kernel_size", None) or current.pool_size)
            dilation = (1, 1) if variant == "no dilation" else getattr(current, "dilation_rate", (1, 1))
            kernel = [kernel[0], kernel[0]] if variant == "square" else kernel
            for axis in (0, 1):
                size[axis] += (kernel[axis] - 1) * dilation[axis] * jump[axis]
                jump[axis] *= 1 if variant == "no strides" else current.strides[axis]
        if current.name == layer:
            break
    return tuple(size)


def _ascent(model, layer, channel, row, col, start, steps, step_size, variant="right"):
    import keras
    import tensorflow as tf
    probe = keras.Model(model.input, model.get_layer(layer).output)
    x = tf.Variable(tf.constant(start, tf.float32))
    for _ in range(steps):
        with tf.GradientTape() as tape:
            out = probe(x, training=False)
            value = tf.reduce_mean(out[..., channel]) if variant == "channel mean" else out[:, row, col, channel]
        g = tape.gradient(value, x)
        move = g if variant == "raw gradient" else tf.math.divide_no_nan(g, tf.norm(g))
        x.assign(x + (-1 if variant == "descent" else 1) * step_size * move)
        if variant != "no clip":
            x.assign(tf.clip_by_value(x, 0.0, 1.0))
    return x.numpy()


def _layer(model, layer, images):
    import keras
    return np.asarray(keras.Model(model.input, model.get_layer(layer).output)(images))


def _mean_but_last(a):
    return a.mean(axis=tuple(range(a.ndim - 1)))


def _plus_plus(model, images, layer, class_index, weights):
    from helpers.grading.references.model_checks import maps_and_gradients
    a, g = maps_and_gradients(model, images, layer, class_index)
    if weights == "mean":
        w = g.mean(axis=(1, 2))
    else:
        den = 2 * g ** 2 + a.sum(axis=(1, 2), keepdims=True) * g ** 3
        alpha = np.full_like(g, 0.5) if weights == "half" else np.divide(g ** 2, den, out=np.zeros_like(g), where=den != 0)
        w = (alpha * (g if weights == "no relu" else np.maximum(g, 0))).sum(axis=(1, 2))
    return np.maximum(np.einsum("nhwk,nk->nhw", a, w), 0)


@pytest.mark.parametrize("name", sorted(WRONG))
def test_wrong_but_plausible_answers_score_zero(name):
    assert len(WRONG[name]) >= 3
    for label, function in WRONG[name].items():
        for seed in (0, 1, 2):
            with np.errstate(divide="ignore", invalid="ignore"):
                result = references.run_checks(name, function, seed=seed)
            assert (result["passed"], result["score"]) == (0, 0.0), (label, seed, result["messages"])
            assert len(result["messages"]) == result["total"]


@pytest.mark.parametrize("name", sorted(exercises.EXERCISES))
def test_a_lookup_table_of_one_seeds_answers_fails_on_another(name):
    """Every check's inputs come from the seed: answers recorded for seed 0 are wrong for seed 1."""
    reference = exercises.EXERCISES[name]
    solution = {"most_confident_mistakes": _mistakes,
                "normalize_feature_map": __import__("helpers.featuremaps", fromlist=["x"]).normalize_channel,
                "receptive_field_size": _field,
                "regularized_class_ascent": _class_ascent,
                "score_cam_map": _score_cam,
                "channel_means": lambda m, layer, x: _mean_but_last(_layer(m, layer, x)),
                "neuron_ascent": _ascent,
                "grad_cam_plus_plus_map": lambda m, x, layer, c: _plus_plus(m, x, layer, c, weights="plus plus")}[name]
    assert references.run_checks(name, solution, seed=0)["passed"] == len(reference.checks)
    recorded = exercises.call_checks(solution, references.check_inputs(name, 0))
    answers = iter(recorded * 2)
    lookup = lambda *args: next(answers)  # replays seed 0's answers in order
    result = references.run_checks(name, lookup, seed=1)
    assert result["passed"] == 0, result["messages"]


def test_non_finite_answers_fail_every_check():
    for name, exercise in exercises.EXERCISES.items():
        inputs = references.check_inputs(name, 3)
        outputs = [np.array([np.nan, np.inf])] * len(inputs)
        result = references.score_outputs(name, outputs, inputs)
        assert result["passed"] == 0 and all("NaN or infinite" in m for m in result["messages"]), name


def test_edge_case_counts_only_with_the_main_case():
    # right on constant maps (128) and on the clipped bright pixel only by accident: the constant-map
    # point needs the random map to pass
    result = references.run_checks("normalize_feature_map", _normalize_128_or_255)
    assert result["passed"] == 0
    assert any("counts only when the check 'random map' passes" in m for m in result["messages"])
    first_only = references.run_checks("receptive_field_size", lambda m, layer: _field(m, "conv1"))
    assert first_only["score"] == 0.0  # the first layer's field for every layer: right on the first layer only
    assert any("counts only when the check 'a four-block network' passes" in m for m in first_only["messages"])


def test_student_versions_are_up_to_date():
    assert assignments.stale(NOTEBOOKS, REPO / "assignments") == []
    assert assignments.main(["--verify"]) == 0


def test_student_version_strips_solutions_and_outputs(tmp_path):
    [path] = NOTEBOOKS.glob("02_*.ipynb")
    reference = nbformat.read(path, as_version=4)
    student = assignments.student_version(reference, "02", path.name)
    cell, model_cell = [c for c in student.cells if assignments.exercise_name(c)]
    assert exercises.BEGIN not in model_cell.source and "keras.Model(" not in model_cell.source
    assert exercises.BEGIN not in cell.source and "np.clip" not in cell.source
    assert "# TODO: a constant map (np.ptp(channel) == 0) becomes uniform 128" in cell.source
    assert '    raise NotImplementedError("exercise normalize_feature_map' in cell.source
    code = [c for c in student.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert "parameters" in code[0].metadata["tags"] and code[0].source == [
        c for c in reference.cells if c.cell_type == "code"][0].source
    assert any(o for c in reference.cells if c.cell_type == "code" for o in c.outputs)  # reference untouched
    out = tmp_path / "assignments"
    assignments.generate(NOTEBOOKS, out)
    (out / path.name).write_text((out / path.name).read_text().replace("TODO", "DONE"))
    (out / "99_extra.ipynb").write_text("{}")
    assert assignments.stale(NOTEBOOKS, out) == [f"extra {out / '99_extra.ipynb'}", f"out of date {out / path.name}"]
    assert assignments.main(["--verify", "--out-dir", str(out)]) == 1


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_reference_solutions_get_full_marks(chapter):
    report = grade.grade(NOTEBOOKS / chapter, cell_timeout=60)
    assert report["exercises"] and report["score"] == report["max_score"] == chapter_points(chapter), report


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_untouched_student_versions_get_zero(chapter):
    report = grade.grade(REPO / "assignments" / chapter, cell_timeout=60)
    assert report["score"] == 0 and report["max_score"] == chapter_points(chapter)
    for record in report["exercises"]:
        assert "NotImplementedError" in " ".join(record["messages"]), record


def chapter_points(chapter):
    return sum(exercises.EXERCISES[n].points for n in exercises.for_chapter(chapter[:2]))


def record_of(report, name="normalize_feature_map"):
    return next(r for r in report["exercises"] if r["exercise"] == name)


def submission(tmp_path, edit, name="02_activations.ipynb", exercise="normalize_feature_map"):
    """The chapter-02 reference with the source of ``exercise``'s cell passed through ``edit``; the chapter's
    other exercise cells are removed (they score 0), so the report's total is this exercise's score."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    for cell in nb.cells:
        if assignments.exercise_name(cell) == exercise:
            cell.source = edit(cell.source)
        elif assignments.exercise_name(cell):
            cell.source = None
    nb.cells = [c for c in nb.cells if c.source is not None]
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


BROKEN = {
    "syntax error": (lambda s: s.replace("def normalize_feature_map(channel):", "def normalize_feature_map(channel:"),
                     "your cell raised SyntaxError"),
    "exception": (lambda s: s.replace("    channel = np.asarray", "    raise ValueError('oops')\n    channel = np.asarray"),
                  "ValueError: oops"),
    "renamed function": (lambda s: s.replace("def normalize_feature_map(", "def normalise(", 1),
                         "normalize_feature_map is not defined after the exercise cell ran (renamed or deleted?)"),
    "loop in the cell": (lambda s: s.replace("\ndef ", "\nwhile True:\n    pass\n\n\ndef ", 1),
                         "your cell did not finish within 5 s"),
    "loop in the function": (lambda s: s.replace("    channel = np.asarray", "    while True:\n        pass\n    channel = np.asarray"),
                             "did not finish within 5 s (an infinite loop?)"),
    "deleted cell": (lambda s: "print('the exercise was here')",
                     "exercise cell '# EXERCISE normalize_feature_map' not found"),
    "huge cell": (lambda s: s + "\n" + "#" * 120_000,
                  "your exercise cell has 1"),  # never parsed or run: no work before the sandbox
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_submissions_get_a_score_and_a_message(tmp_path, case, capsys):
    edit, message = BROKEN[case]
    path = submission(tmp_path, edit)
    assert grade.main([str(path), "--chapter", "02", "--cell-timeout", "5", "--total-timeout", "120"]) == 0
    out = capsys.readouterr().out
    report = json.loads(path.with_suffix(".grade.json").read_text())
    record = record_of(report)
    assert report["score"] == 0 and report["max_score"] == chapter_points("02")
    assert message in " ".join(record["messages"]), record
    assert message in out and "total" in out


def test_an_oversized_submission_is_refused_unread(tmp_path, monkeypatch):
    path = tmp_path / "02_activations.ipynb"
    path.write_bytes(b"{" + b" " * 2048 + b"}")
    monkeypatch.setattr(submitted, "MAX_SUBMISSION_BYTES", 1024)
    monkeypatch.setattr(submitted.nbformat, "read", lambda *a, **k: pytest.fail("an oversized file must not be parsed"))
    nb, problem = submitted.read_submission(path)
    assert nb is None and "clear its outputs" in problem


def test_a_partly_right_submission_gets_partial_credit(tmp_path):
    path = submission(tmp_path, lambda s: s.replace("    if np.ptp(channel) == 0:", "    if False:"))
    record = record_of(grade.grade(path, cell_timeout=30))
    assert (record["passed"], record["score"]) == (2, 1.33)


def test_a_submission_that_ignores_interrupts_is_stopped(tmp_path):
    stubborn = "\nimport time\nwhile True:\n    try:\n        time.sleep(0.1)\n    except BaseException:\n        continue"
    report = grade.grade(submission(tmp_path, lambda s: s + stubborn), cell_timeout=2, total_timeout=20)
    assert report["score"] == 0 and "ran past its limit of 2 s and did not let itself be interrupted" in report["problem"]
    assert report["exercises"][0]["messages"]


@pytest.mark.parametrize("content", [b"not a notebook", b'{"cells": 3}'])
def test_unreadable_files_are_graded_zero(tmp_path, content):
    path = tmp_path / "03_filters.ipynb"
    path.write_bytes(content)
    report = grade.grade(path)
    assert report["score"] == 0 and report["max_score"] == 2.0
    assert "is not a readable notebook" in report["problem"]
    assert "not a readable notebook" in report["exercises"][0]["messages"][0]
    missing = grade.grade(tmp_path / "04_missing.ipynb")
    assert missing["max_score"] == chapter_points("04") and "does not exist" in missing["exercises"][0]["messages"][0]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_each_chapter_asks_its_question_and_the_student_version_hides_the_rubric(chapter):
    from helpers.grading import questions

    reference = nbformat.read(NOTEBOOKS / chapter, as_version=4)
    [answer] = [c for c in reference.cells if questions.question_of(c)]
    [name] = questions.for_chapter(chapter[:2])
    assert questions.question_of(answer) == name and "Rubric" in answer.source
    position = reference.cells.index(answer)
    assert "## Question (graded by hand" in reference.cells[position - 1].source  # the question comes first
    student = nbformat.read(REPO / "assignments" / chapter, as_version=4)
    [blank] = [c for c in student.cells if questions.question_of(c)]
    assert blank.source.startswith(questions.STUDENT_ANSWER) and "Rubric" not in blank.source
    assert not any("Rubric" in c.source for c in student.cells)


def test_the_grader_lists_the_question_graded_by_hand(capsys):
    report = grade.grade(REPO / "assignments" / "05_attribution.ipynb", cell_timeout=30)
    assert report["graded_by_hand"] == [{"question": "q05_baseline", "points": 1.0}]
    report_files.print_table(report)
    assert "question q05_baseline (1 point) is graded by hand, not in this total" in capsys.readouterr().out


def test_student_text_reaches_the_terminal_escaped(capsys):
    evil = "ValueError: \x1b[2J\x1b[1;1H\rtotal 10.00 / 10\n\u202etxt.exe"
    report = {"exercises": [{"exercise": "normalize_feature_map", "chapter": "02", "passed": 0, "total": 3,
                             "score": 0.0, "points": 2.0, "messages": [evil]}],
              "score": 0.0, "max_score": 2.0, "problem": "\x1b]0;owned\x07", "graded_by_hand": []}
    report_files.print_table(report)
    out = capsys.readouterr().out
    assert not any(c in out for c in "\x1b\r\x07\u202e")
    assert "\\x1b[2J" in out and "\\x0d" in out and "\\u202e" in out
    assert len(out.splitlines()) == 5  # header, exercise, its one message, total, note: no faked lines


def test_only_imports_and_literal_constants_of_earlier_cells_are_taken():
    from helpers.grading.preamble import notebook_preamble

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import numpy as np\nimport os; os.system('rm -rf /')\nx = 1\n"
                                          "from scipy import (ndimage as nd,\n    stats)\nimport a, b as c\n"
                                          "SCALE, SHIFT = 64, (1, 2)\nn = 5\nn = n + 1\ny = open('f').read()\n"
                                          "from .local import z\nfrom m import *\nfor k in range(3): pass"),
                nbformat.v4.new_code_cell("%matplotlib inline\nLABEL: str = 'four'; x = 2"),
                nbformat.v4.new_code_cell("def broken(:"),
                nbformat.v4.new_code_cell("# EXERCISE normalize_feature_map\nimport math"),
                nbformat.v4.new_code_cell("import later")]
    assert notebook_preamble(nb, "normalize_feature_map") == [
        "import numpy as np", "import os", "x = 1", "from scipy import ndimage as nd, stats", "import a, b as c",
        "SCALE, SHIFT = (64, (1, 2))", "LABEL: str = 'four'", "x = 2"]


def test_the_notebook_check_warns_when_an_answer_leans_on_the_course_helpers(capsys):
    """The in-notebook check must not promise marks the sandboxed grader withholds (it has no helpers)."""
    from helpers import featuremaps

    exercises.check("normalize_feature_map", lambda c: featuremaps.normalize_channel(c))
    out = capsys.readouterr().out
    assert "3/3 checks passed" in out and "uses the course's helpers (featuremaps" in out and "score 0 there" in out
    for name, exercise in exercises.EXERCISES.items():  # the reference answers use NumPy, Keras, TensorFlow only
        [path] = NOTEBOOKS.glob(f"{exercise.chapter}_*.ipynb")
        cell = next(c for c in nbformat.read(path, as_version=4).cells if assignments.exercise_name(c) == name)
        namespace = {}
        exec(cell.source, namespace)
        assert exercises.course_names_used(namespace[exercise.function]) == [], name
