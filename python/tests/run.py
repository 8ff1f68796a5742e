"""Runs every test here and closes with one plain line: `test-python: N passed, N failed, N skipped`
(tests, a test with failing subtests counted once), as `make test-stage` closes with its own."""

import sys
import unittest
from pathlib import Path

here = str(Path(__file__).resolve().parent)
suite = unittest.defaultTestLoader.discover(start_dir=here, top_level_dir=here)
result = unittest.TextTestRunner(verbosity=1).run(suite)
failed = {getattr(test, "test_case", test).id() for test, _ in result.failures + result.errors}
failed |= {test.id() for test in result.unexpectedSuccesses}
skipped = len(result.skipped)
print(f"test-python: {result.testsRun - len(failed) - skipped} passed, {len(failed)} failed, {skipped} skipped")
sys.exit(0 if result.wasSuccessful() else 1)
