"""The Beam jobs and their steps: tag and extract graphs, sources, inference, albums,
incremental state, publishing of outputs, and the runners (Dask included)."""
