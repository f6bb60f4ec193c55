"""Check-input seeds that no student can know: the recorded seed, keyed with the instructor's secret.

A report records the seed of its submission (so a grading can be repeated), and a student may
see that report. The check inputs are therefore not drawn from that seed but from
``HMAC-SHA256(key, seed)``, where ``key`` is 32 random bytes in a file only the instructor can
read (:func:`key_path`: ``$COURSE_GRADER_KEY``, else ``~/.config/cnn-vis-course/grader.key``,
made on first use with mode 0600). The sandbox never sees that file (neither the home directory
nor ``/tmp`` of the grader is mounted there), so knowing a seed, or every seed, tells nothing
about the inputs; the instructor, who has the key, gets the same inputs again from the same seed.
"""

import hashlib
import hmac
import os
import pathlib
import secrets
import stat

#: Environment variable naming the key file.
KEY_ENV = "COURSE_GRADER_KEY"
KEY_BYTES = 32


def key_path():
    """The key file: ``$COURSE_GRADER_KEY``, else ``~/.config/cnn-vis-course/grader.key``."""
    named = os.environ.get(KEY_ENV)
    return pathlib.Path(named) if named else pathlib.Path.home() / ".config" / "cnn-vis-course" / "grader.key"


def secret_key():
    """The instructor's key (made on first use); refuses a key file that is a link or that others can read."""
    path = key_path()
    if not path.exists() and not path.is_symlink():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(handle, "wb") as f:
            f.write(secrets.token_bytes(KEY_BYTES))
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as err:
        raise PermissionError(f"the grader's key {path} cannot be read safely ({err}): it must be a regular file, "
                              f"not a link; set {KEY_ENV} to another path to use another key") from None
    with os.fdopen(handle, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_mode & 0o077:
            raise PermissionError(f"the grader's key {path} must be a regular file that only its owner can read "
                                  f"(chmod 600 {path})")
        key = f.read()
    if len(key) < KEY_BYTES:
        raise ValueError(f"the grader's key {path} holds {len(key)} bytes, fewer than {KEY_BYTES}: remove it to "
                         "make a new one (scores of earlier seeds then cannot be repeated)")
    return key


def input_seed(seed):
    """The seed the check inputs are drawn from, for the recorded ``seed`` (a non-negative integer).

    Args:
        seed: the submission's recorded seed.

    Returns:
        int below 2**63: the first 8 bytes of ``HMAC-SHA256(key, str(seed))``.
    """
    digest = hmac.new(secret_key(), str(int(seed)).encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") >> 1
