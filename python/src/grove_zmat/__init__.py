"""numpy's side of Grove's zmat streams.

A zmat stream (docs/FORMAT.md in the Grove repository) is a zstd-compressed matrix: rows of
uint8, int32, float32 or float64, each row optionally labelled with an int32, plus a small
str-to-str metadata header. Grove's command-line tools (``zmat``, ``pca-fit``, ``rf-tree``,
``rf-predict``, ...) read and write nothing else; this package lets numpy code do the same::

    import numpy as np
    import grove_zmat as zmat

    X = np.zeros((100, 784), dtype=np.uint8)
    y = np.arange(100) % 10
    zmat.save("train.zmat", X, y)              # atomic; `zmat verify train.zmat` accepts it
    X, y, metadata = zmat.load("train.zmat")   # every checksum and the content hash checked
    for X_block, y_block in zmat.iter_blocks("big.zmat"):   # bounded memory
        ...

Readers take a path or any binary file object (a pipe, ``sys.stdin.buffer``) and read it
front to back; writers take a path or ``sys.stdout.buffer``. Damaged input raises
`ZmatError` with the same message, naming the byte offset, as Grove's Swift tools print.
"""

from ._format import ZmatError
from ._reader import ZmatReader, iter_blocks, load
from ._version import __version__
from ._writer import DEFAULT_LEVEL, ZmatWriter, save
from ._xxh64 import XXH64

__all__ = ["load", "save", "iter_blocks", "ZmatReader", "ZmatWriter", "ZmatError", "XXH64",
           "DEFAULT_LEVEL", "__version__"]
