"""The README's "Using Grove from Python" example, extracted and run as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import unittest
from typing import List, Tuple

from support import REPO, TempDirCase, needs_swift, swift_bin


def readme_blocks() -> List[Tuple[str, str]]:
    """(language, code) of each fenced block in the section, in order."""
    text = (REPO / "README.md").read_text()
    section = re.search(r"^## Using Grove from Python\n(.*?)(?=^## )", text, re.S | re.M)
    assert section, "README.md has no 'Using Grove from Python' section"
    return re.findall(r"^```(\w+)\n(.*?)^```", section.group(1), re.S | re.M)


@needs_swift
class ReadmeExampleTest(TempDirCase):
    def test_the_example_runs(self) -> None:
        blocks = readme_blocks()
        self.assertEqual([lang for lang, _ in blocks], ["python", "sh", "python"])
        env = dict(os.environ, PATH=f"{swift_bin()}{os.pathsep}{os.environ['PATH']}")
        outputs = []
        for lang, code in blocks:
            command = [sys.executable, "-c", code] if lang == "python" else ["bash", "-eo", "pipefail", "-c", code]
            result = subprocess.run(command, cwd=self.dir, env=env, capture_output=True, text=True, timeout=60)
            self.assertEqual(result.returncode, 0, f"{lang} block failed:\n{code}\n{result.stderr}")
            outputs.append(result.stdout)
        self.assertRegex(outputs[1], r"^train\.zmat: ok, 600 rows, float32 x 8, labels, xxh64:[0-9a-f]{16}\n$")
        accuracy = re.search(r"^predictions accuracy ([0-9.]+)$", outputs[2], re.M)
        self.assertIsNotNone(accuracy, outputs[2])
        self.assertGreater(float(accuracy.group(1)), 0.7)
        self.assertIn("(600, 8) float32 [", outputs[2])


if __name__ == "__main__":
    unittest.main()
