"""The Beam jobs and their steps: tag and extract graphs, sources, inference, evidence
(albums, artists), incremental state, publishing of outputs, and the runners (Dask
included)."""
