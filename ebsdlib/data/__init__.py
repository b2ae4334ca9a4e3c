"""Data layer: the HDF5 format, readers behind one :func:`load`, preprocessing and splits.

- :mod:`.format` — :class:`EBSDDataset` (reader) and the block writers;
- :mod:`.checks` — what a pattern block, a field and a file must be (:class:`DataFormatError`);
- :mod:`.readers` — :func:`load`: the project's HDF5, image folders and vendor files;
- :mod:`.image_folder`, :mod:`.vendor` — the converters behind :func:`load`;
- :mod:`.preprocess` — :class:`PreprocessConfig`, :func:`preprocess_batch`;
- :mod:`.splits` — seeded, stratified and spatial splits;
- :mod:`.scan` — where a data set's patterns lie on the scan grid.

Attributes load on first use (``lazy_loader``; the public names are in ``__init__.pyi``).
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
