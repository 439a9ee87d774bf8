"""Datasets on disk: the embedded sample data, preparation, split files, clip datasets."""
