"""What the grader reads of a submission, before any of it runs: the notebook file (regular files
only, size-capped, reached without following a link) and the exercises the assignment grades (the
earlier cells' imports and constants: :mod:`helpers.grading.preamble`; IPython syntax in a cell is
turned into Python inside the sandbox, :mod:`helpers.grading.sandbox_runner`).
"""

import errno
import os
import pathlib
import stat

import nbformat

from helpers.grading.exercises import EXERCISES, for_chapter

#: Bound on the work done before the sandbox: a submitted file (the rendered chapters are under 3 MiB).
MAX_SUBMISSION_BYTES = 64 * 2**20
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
#: How each folder below the class folder is opened: never through a symbolic link.
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC
#: How the notebook is opened: not through a link, and without blocking on a named pipe.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC


def regular_file(path):
    """True for a regular file (not a link, pipe, socket or device: opening a pipe would block the grader)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _below(path, root):
    """Where the link checks of ``path`` start, and the names from there down to the file.

    Args:
        path: a submission, as listed (made absolute, not resolved: ``..`` is taken as written).
        root: the class folder, or None for the file system's root.

    Returns:
        ``(anchor, names)``: ``anchor`` the highest folder of ``path`` that resolves to ``root`` (links at
        or above the class folder are the instructor's), or None when no folder of ``path`` does;
        ``names`` the path's components below it, the file's name last.
    """
    parts = pathlib.Path(os.path.abspath(path)).parts
    if root is None:
        return pathlib.Path(parts[0]), list(parts[1:])
    root = os.path.realpath(root)
    for i in range(1, len(parts)):
        if os.path.realpath(pathlib.Path(*parts[:i])) == root:
            return pathlib.Path(*parts[:i]), list(parts[i:])
    return None, []


def _inside(path, folder):
    return os.path.commonpath([path, folder]) == folder


def _symlink(path):
    return f"{path} is a symbolic link, not a submitted notebook: submit the file itself"


def _hard_link(path, count):
    return (f"{path} is a hard link (the file has {count} names): a submission must be a file of its own, not "
            "another file linked into the student's folder; submit a copy")


def link_problem(path, root=None):
    """Why ``path`` is refused for a link, or "".

    A submission is read only from its own folder: a symbolic link (the file itself, or any folder between
    the class folder and the file, e.g. ``students/alice -> students/bob`` or a link to the instructor's
    notebooks), a file outside the class folder and a hard link (a regular file with more than one name)
    are refused. A missing file is not a link problem (reading it says that it does not exist).

    Args:
        path: the submitted notebook, as listed.
        root: the class folder; None checks every component of ``path`` (made absolute, not resolved).

    Returns:
        str: the problem message, or "".
    """
    anchor, names = _below(path, root)
    if anchor is None:
        return f"{path} is not inside the class folder {os.path.realpath(root)}: only submissions in it are graded"
    current = anchor
    for i, name in enumerate(names):
        current = current / name
        try:
            info = os.lstat(current)
        except (FileNotFoundError, NotADirectoryError):
            return ""
        except OSError as err:
            return f"{path} cannot be checked for links ({current}: {err.strerror})"
        if stat.S_ISLNK(info.st_mode) and i == len(names) - 1:
            return _symlink(path)
        if stat.S_ISLNK(info.st_mode):
            return (f"{path} is reached through a symbolic link ({current}): a submission is read only from its "
                    "own folder, never through a link (one could lead to another student's folder or to the solutions)")
        if i == len(names) - 1 and stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
            return _hard_link(path, info.st_nlink)
    if root is not None and not _inside(os.path.realpath(path), os.path.realpath(root)):
        return f"{path} is not inside the class folder {os.path.realpath(root)}: only submissions in it are graded"
    return ""


def open_folder(path, root=None):
    """The folder holding ``path``, opened one name at a time from where :func:`link_problem` starts, none
    of them through a symbolic link (a folder swapped for a link after the check fails with ``ELOOP``).

    Args:
        path: a submission, as listed.
        root: the class folder, or None (see :func:`link_problem`).

    Returns:
        ``(descriptor, name)``: an open descriptor of the file's folder (the caller closes it) and the file's name.

    Raises:
        OSError: a folder is missing, not a folder or a link (``ELOOP``), or ``path`` is outside ``root``.
    """
    anchor, names = _below(path, root)
    if anchor is None or not names:
        raise NotADirectoryError(errno.ENOTDIR, "not inside the class folder", str(path))
    descriptor = os.open(anchor, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
    try:
        for name in names[:-1]:
            try:
                below = os.open(name, _FOLDER_FLAGS, dir_fd=descriptor)
            except NotADirectoryError:  # what Linux answers for a link opened O_DIRECTORY | O_NOFOLLOW
                if stat.S_ISLNK(os.stat(name, dir_fd=descriptor, follow_symlinks=False).st_mode):
                    raise OSError(errno.ELOOP, "a symbolic link", name) from None
                raise
            os.close(descriptor)
            descriptor = below
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor, names[-1]


def write_beside(report, path, root=None):
    """Write ``report`` as the ``.grade.json`` beside the submission at ``path``, into its folder opened without
    following a link (:func:`open_folder`): never through a linked folder, into another student's.

    Args:
        report: the submission's report.
        path: the submission, as listed.
        root: the class folder, or None (see :func:`link_problem`).

    Returns:
        str: "" when written; else why nothing was written (the submission is refused for a link).

    Raises:
        OSError: the file could not be written.
    """
    from helpers.grading.report import write_report

    problem = link_problem(path, root)
    if problem:
        return problem
    try:
        folder, name = open_folder(path, root)
    except OSError as err:
        if err.errno == errno.ELOOP:
            return _open_problem(path, err)
        raise
    try:
        write_report(report, pathlib.Path(name).with_suffix(".grade.json").name, dir_fd=folder)
    finally:
        os.close(folder)
    return ""


def _open_problem(path, err):
    """The problem message of an ``OSError`` met opening ``path`` or a folder above it."""
    if isinstance(err, (FileNotFoundError, NotADirectoryError)):
        return f"{path} does not exist"
    if err.errno == errno.ELOOP:
        return f"{path} is reached through a symbolic link (it changed while being checked): submit the file itself"
    return f"{path} cannot be opened ({err.strerror})"


def _open_notebook(path, root):
    """``(descriptor or None, problem)``: ``path`` opened with ``O_NOFOLLOW`` in its folder, which was reached
    without following a link; the descriptor is a regular file with one name (checked on it, not on the path)."""
    try:
        folder, name = open_folder(path, root)
    except OSError as err:
        return None, _open_problem(path, err)
    try:
        mode = os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode
        if not stat.S_ISREG(mode):  # not opened: opening a device can have effects
            return None, _symlink(path) if stat.S_ISLNK(mode) else f"{path} is not a regular file"
        descriptor = os.open(name, _FILE_FLAGS, dir_fd=folder)
    except OSError as err:
        return None, _open_problem(path, err)
    finally:
        os.close(folder)
    info, problem = os.fstat(descriptor), ""
    if not stat.S_ISREG(info.st_mode):
        problem = f"{path} is not a regular file"
    elif info.st_nlink > 1:
        problem = _hard_link(path, info.st_nlink)
    elif info.st_size > MAX_SUBMISSION_BYTES:
        problem = (f"{path} is {info.st_size / 2**20:.0f} MiB, more than the {MAX_SUBMISSION_BYTES // 2**20} MiB a "
                   "notebook of this course needs: clear its outputs (Kernel > Restart & Clear Output) and submit it "
                   "again")
    if problem:
        os.close(descriptor)
        return None, problem
    return descriptor, ""


def read_submission(path, root=None):
    """``(notebook or None, problem message)`` for the file at ``path``.

    Args:
        path: the submitted notebook.
        root: the class folder (see :func:`link_problem`); None checks every component of ``path``.

    Returns:
        ``(nbformat notebook, "")``, or ``(None, why it is refused)``: a link of any kind (:func:`link_problem`:
        it could lead to another student's notebook or to the solutions), anything but a regular file, a file
        over :data:`MAX_SUBMISSION_BYTES`, a missing or unreadable file.
    """
    problem = link_problem(path, root)
    if problem:
        return None, problem
    descriptor, problem = _open_notebook(path, root)
    if descriptor is None:
        return None, problem
    try:
        with os.fdopen(descriptor, "rb") as f:
            data = f.read(MAX_SUBMISSION_BYTES + 1)
        if len(data) > MAX_SUBMISSION_BYTES:
            return None, f"{path} grew past {MAX_SUBMISSION_BYTES // 2**20} MiB while being read"
        return nbformat.reads(data.decode("utf-8"), as_version=4), ""
    except Exception as err:  # any unreadable file is a broken submission, reported as such
        return None, f"{path} is not a readable notebook ({type(err).__name__}: {err})"


def expected_exercises(path, nb, chapter=None):
    """Exercises this submission is graded on: those of ``chapter`` (``"02"``, the instructor's assignment:
    ``--chapter``), else of the chapter its file name starts with (``02_*.ipynb``). Never what the notebook
    records of itself (its metadata is the student's to edit); exercise cells of other chapters pasted into it
    are not graded: the assignment, not the submission, decides what is marked."""
    names = for_chapter(str(chapter) if chapter is not None else pathlib.Path(path).name[:2])
    return sorted(set(names), key=lambda n: (EXERCISES[n].chapter, n))

