"""Interpretation questions, one per chapter with exercises, graded by hand.

A question is a Markdown cell of the chapter (the question itself, visible to everyone) followed
by a Markdown **answer cell** whose metadata says ``{"course": {"answer_to": "<question>"}}``. In
the chapter, which is the instructor's source, the answer cell holds the rubric and a model
answer. The student version (:mod:`helpers.grading.assignments`) replaces it by
:data:`STUDENT_ANSWER`; the nbgrader source (:mod:`helpers.grading.nbgrader_course`) makes it a
manually graded answer cell worth the question's points, so ``nbgrader generate_assignment``
strips the rubric and ``autograde`` leaves it for ``formgrader``. The command-line grader lists
the questions as "graded by hand" and does not score them.
"""

from dataclasses import dataclass

#: Metadata key (under ``course``) of an answer cell.
ANSWER_KEY = "answer_to"
#: What a student's answer cell holds before they write.
STUDENT_ANSWER = "YOUR ANSWER HERE"


@dataclass(frozen=True)
class Question:
    """One question: its chapter, points and what it asks (for listings)."""

    chapter: str
    topic: str
    points: float = 1.0


QUESTIONS = {
    "q01_mistakes": Question("01", "are the network's most confident mistakes its own errors?"),
    "q02_sparsity": Question("02", "silent channels against zero values, and which measure decides pruning"),
    "q03_stuck": Question("03", "why a filter gets no gradient, and what could move it"),
    "q04_confidence": Question("04", "is the network's confidence evidence that a picture shows what it learned?"),
    "q05_baseline": Question("05", "what decides where an Integrated Gradients map can be non-zero"),
}


def question_of(cell):
    """The question a Markdown answer cell answers, or None."""
    if cell.cell_type != "markdown":
        return None
    name = cell.metadata.get("course", {}).get(ANSWER_KEY)
    return name if name in QUESTIONS else None


def for_chapter(chapter):
    """Names of the questions of chapter ``chapter`` (``"02"``)."""
    return [name for name, q in QUESTIONS.items() if q.chapter == chapter]
