#!/usr/bin/env python3
"""Progress lines through a real pseudo-terminal (issue 13 part 2).

Every tool that reports progress runs with standard error on a pty (progress on), on a pipe
(off), and on a pipe with --progress (plain lines). Checked: on the pty the line is redrawn in
place (\\r, erase-to-end-of-line, no newline until the end), never more than about 10 times a
second, cut to the terminal's width, its percentages rising to 100% or a summary line; nothing on
standard error off a terminal unless asked; plain lines with --progress; the outputs byte for
byte the same in all three runs; an error erases the line before its message.

    python3 Tests/progress/test-progress.py BIN_DIR
"""
import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import tempfile
import termios
import time

BIN = os.path.abspath(sys.argv[1])
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLUMNS = 72
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def tool(name):
    return os.path.join(BIN, name)


def run_pty(argv, stdout_path, timeout=120):
    """Runs argv with stderr on a pty of COLUMNS columns; returns (exit code, stderr bytes, seconds)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, COLUMNS, 0, 0))
    # No \n -> \r\n translation, so the bytes are the tool's own.
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.OPOST
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    with open(stdout_path, "wb") as out:
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=slave, close_fds=True)
    os.close(slave)
    data = bytearray()
    deadline = start + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer has closed the pty
                break
            if not chunk:
                break
            data += chunk
        elif proc.poll() is not None:
            break
    else:
        proc.kill()
    code = proc.wait(timeout=30)
    seconds = time.monotonic() - start
    os.close(master)
    return code, bytes(data), seconds


def run_pipe(argv, stdout_path):
    with open(stdout_path, "wb") as out:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.PIPE, timeout=120)
    return p.returncode, p.stderr


def same_file(a, b):
    with open(a, "rb") as x, open(b, "rb") as y:
        return x.read() == y.read()


def check_terminal(name, err, seconds, summary_pattern):
    """The pty's stderr: redraws on one line, rate-limited, within the width, ending in a summary."""
    text = err.decode("utf-8", "replace")
    # Everything up to the final erase is one line (no newline); then the summary line.
    last_erase = text.rfind("\r\x1b[K")
    drawing, tail = (text[:last_erase], text[last_erase + 4:]) if last_erase >= 0 else ("", text)
    check("\n" not in drawing, f"{name}: a newline among the redraws: {drawing[:200]!r}")
    redraws = [s for s in drawing.split("\r") if s]
    for r in redraws:
        check(r.endswith("\x1b[K"), f"{name}: a redraw without erase-to-end-of-line: {r!r}")
        check(len(r) - 3 <= COLUMNS - 1, f"{name}: a redraw wider than the terminal ({COLUMNS}): {r!r}")
    limit = 10 * seconds + 1
    check(len(redraws) <= limit, f"{name}: {len(redraws)} redraws in {seconds:.2f} s (at most {limit:.0f})")
    check(re.fullmatch(summary_pattern, tail) is not None, f"{name}: summary {tail!r} does not match {summary_pattern!r}")
    # Percentages rise within each phase ("rf-tree: reading", then "rf-tree: growing").
    phases = {}
    for r in redraws:
        m = re.match(r"(.*?: \w+) .*\((\d+)%\)", r)
        if m:
            phases.setdefault(m.group(1), []).append(int(m.group(2)))
    for phase, percents in phases.items():
        check(percents == sorted(percents), f"{name}: percentages of '{phase}' go down: {percents}")
    return redraws, phases


def main():
    work = tempfile.mkdtemp(prefix="grove-progress-")
    try:
        run_all(work)
    finally:
        subprocess.run(["rm", "-rf", work])
    if failures:
        print(f"test-progress: {len(failures)} failures", file=sys.stderr)
        sys.exit(1)
    print("test-progress: ok")


def run_all(work):
    w = lambda name: os.path.join(work, name)
    images = os.path.join(ROOT, "datasets", "mnist-images-2k")
    subprocess.run([tool("mnist-decode"), images, "-o", w("train.zmat")], check=True, stderr=subprocess.DEVNULL)
    subprocess.run([tool("pca-fit"), "-k", "20", w("train.zmat"), "-o", w("pca.zmat")], check=True, stderr=subprocess.DEVNULL)
    subprocess.run([tool("pca-project"), "-m", w("pca.zmat"), w("train.zmat"), "-o", w("feat.zmat")], check=True,
                   stderr=subprocess.DEVNULL)

    # --- rf-tree: a run of known length, its redraws counted ------------------------------------
    trees = "400"
    argv = [tool("rf-tree"), w("train.zmat"), "--trees", trees, "--seed", "5"]
    code, err, seconds = run_pty(argv + ["-o", w("forest-tty.zmat")], w("stdout-tty"))
    check(code == 0, f"rf-tree on a pty exited {code}: {err[-300:]!r}")
    redraws, _ = check_terminal("rf-tree", err, seconds, r"rf-tree: 400 trees in [0-9.:]+( s)? \([0-9.k]+ trees/s\)\n")
    print(f"rf-tree --trees {trees}: {len(redraws)} redraws in {seconds:.2f} s; last: {redraws[-1][:-3] if redraws else None!r}")
    if seconds > 1.5:
        check(len(redraws) >= 3, f"rf-tree: only {len(redraws)} redraws in {seconds:.2f} s")
        check(any("trees/s" in r and "left" in r for r in redraws), "rf-tree: no redraw shows a rate and the time left")
    code, err_pipe = run_pipe(argv + ["-o", w("forest-pipe.zmat")], w("stdout-pipe"))
    check(code == 0 and err_pipe == b"", f"rf-tree, stderr a pipe: exit {code}, stderr {err_pipe[:200]!r}")
    code, err_lines = run_pipe(argv + ["--progress", "-o", w("forest-lines.zmat")], w("stdout-lines"))
    lines = err_lines.decode().splitlines()
    check(code == 0 and b"\r" not in err_lines and b"\x1b" not in err_lines and lines and
          re.fullmatch(r"rf-tree: 400 trees in .*", lines[-1]) is not None,
          f"rf-tree --progress into a pipe: {err_lines[:300]!r}")
    check(len(lines) - 1 <= seconds + 2, f"rf-tree --progress: {len(lines)} lines in about {seconds:.1f} s")
    check(same_file(w("forest-tty.zmat"), w("forest-pipe.zmat")) and same_file(w("forest-tty.zmat"), w("forest-lines.zmat")),
          "rf-tree: the forests differ with and without progress")
    code, err_quiet, _ = run_pty(argv + ["-q", "-o", w("forest-quiet.zmat")], w("stdout-quiet"))
    check(code == 0 and err_quiet == b"", f"rf-tree -q on a pty printed {err_quiet[:200]!r}")

    # --- every other tool: on a pty, on a pipe, with --progress; the same bytes out --------------
    subprocess.run([tool("zmat"), "convert", w("train.zmat"), "-o", w("train.npy")], check=True)
    cases = {
        "mnist-decode": [tool("mnist-decode"), images],
        "pca-fit": [tool("pca-fit"), "-k", "20", w("train.zmat")],
        "pca-project": [tool("pca-project"), "-m", w("pca.zmat"), w("train.zmat")],
        "rf-predict": [tool("rf-predict"), "-m", w("forest-tty.zmat"), w("train.zmat")],
        "zmat cat": [tool("zmat"), "cat", w("train.zmat"), w("train.zmat")],
        "zmat convert": [tool("zmat"), "convert", w("train.zmat"), "--to", "csv"],
        "zmat convert npy": [tool("zmat"), "convert", w("train.npy"), "--to", "zmat"],
        "zmat shuffle": [tool("zmat"), "shuffle", "--seed", "3", w("train.zmat")],
    }
    summaries = {
        "mnist-decode": r"mnist-decode: 2000 images, 28x28 -> <stdout>\n",
        "pca-fit": r"pca-fit: 20 components of 784 columns from 2000 rows explain [0-9.]+% of the variance\n",
    }
    default_summary = r"(pca-project|rf-predict|zmat cat|zmat convert|zmat shuffle): (\d+ rows, )?[0-9.]+ MB in [0-9.:]+( s)? \([0-9.k]+ MB/s\)\n"
    for name, argv in cases.items():
        tag = name.replace(" ", "-")
        code, err, seconds = run_pty(argv + ["-f"], w(f"{tag}.tty"))
        check(code == 0, f"{name} on a pty exited {code}: {err[-300:]!r}")
        check_terminal(name, err, seconds, summaries.get(name, default_summary))
        code, err_pipe = run_pipe(argv, w(f"{tag}.pipe"))
        check(code == 0 and err_pipe == b"", f"{name}, stderr a pipe: exit {code}, stderr {err_pipe[:200]!r}")
        code, err_lines = run_pipe(argv + ["--progress"], w(f"{tag}.lines"))
        check(code == 0 and b"\r" not in err_lines and err_lines.endswith(b"\n") and err_lines.count(b"\n") <= seconds + 3,
              f"{name} --progress into a pipe: {err_lines[:300]!r}")
        check(same_file(w(f"{tag}.tty"), w(f"{tag}.pipe")) and same_file(w(f"{tag}.tty"), w(f"{tag}.lines")),
              f"{name}: outputs differ with and without progress")

    # --- an error erases the line before its message --------------------------------------------
    # 40000 rows through 400 trees: long enough for redraws before the cut is reached.
    subprocess.run([tool("zmat"), "cat"] + [w("train.zmat")] * 20 + ["-o", w("many.zmat")], check=True)
    data = open(w("many.zmat"), "rb").read()
    with open(w("cut.zmat"), "wb") as f:
        f.write(data[: len(data) * 2 // 3])
    code, err, seconds = run_pty([tool("rf-predict"), "-m", w("forest-tty.zmat"), w("cut.zmat")], w("cut.out"))
    text = err.decode("utf-8", "replace")
    message = text.rfind("rf-predict: " + w("cut.zmat"))
    check(code == 1 and message >= 0 and text.endswith("\n") and "\n" not in text[:message],
          f"rf-predict on truncated input: exit {code}, stderr {text[-300:]!r}")
    if message > 0:
        check(text[:message].endswith("\r\x1b[K"), f"rf-predict: the error message is not on an erased line: {text[-300:]!r}")
    print(f"rf-predict on a truncated input: {text[:message].count(chr(13)) - 1} redraws in {seconds:.2f} s, then erased and the error")


if __name__ == "__main__":
    main()
