"""A registry that is just files (any place fsspec reaches), with a SQL catalog of record.

    store.py    the file layout: content-addressed archives, an index per model, a signed pointer per channel
    catalog.py  versions, stages, approvals and the audit log in SQL (SQLite by default, PostgreSQL shared)
    registry.py publish, promote, retire, list, show: the operations the CLI and the Python API share
"""
