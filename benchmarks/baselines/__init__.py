"""What the benchmarks compare the product against and nothing in it imports: the SQLite FTS5
lexical index (:mod:`benchmarks.baselines.fts5_index`) and the in-memory bm25s index
(:mod:`benchmarks.baselines.bm25_memory`) that the Tantivy index replaced."""
