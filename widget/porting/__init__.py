"""Moving in and out: exports of threads in four formats, imports from five other systems.

- `formats/`: one module per format, each a reader (file → items) and/or a writer (export
  rows → text);
- `items.py`: what readers yield, and the helpers they share (pages, bodies, times);
- `detect.py`: which format a file is in, from its first bytes;
- `importer.py`: stage a file's items on disk (bounded memory), order parents first, then
  write them in one transaction;
- `exporter.py`: stream an export, table by table, through a writer.
"""
