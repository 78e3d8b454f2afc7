// Package codeindex is a local-first code index: it splits a repository's
// files into chunks along their syntax, indexes the chunks lexically (BM25)
// and as vectors, and answers queries with the chunks that match best. It
// needs no network and no model download; everything lives in one
// directory, by default <root>/.llmux.
//
// # Use
//
//	ix, err := codeindex.Open(ctx, root, codeindex.Options{})
//	st, err := ix.Update(ctx)            // full walk; later calls are incremental
//	hits, err := ix.Search(ctx, "wait before retrying", codeindex.SearchOptions{})
//	for _, h := range hits { fmt.Println(h.Location(), h.Symbol, h.Snippet) }
//
// An editor calls Update(ctx, savedFile) after a save; Search is safe to
// call at any time, also while an Update runs (it sees the last committed
// index until the new one is switched in).
//
// # What is indexed
//
// Update walks root without following symbolic links. It honours every
// .gitignore on the way (patterns relative to their directory; a
// directory excluded by a parent is not entered) and skips .git and other
// VCS directories, vendor/, node_modules/, third_party/, the index
// directory, lock files (go.sum, package-lock.json, ...), files over
// Options.MaxFileBytes (1 MiB), binaries (a NUL byte in the first 8 KiB, or
// more than 5% invalid UTF-8 there; rarer invalid bytes are replaced by '?'
// one for one, so offsets hold), minified files (over 300 bytes per line
// on average) and generated files: *.pb.go, *.min.*, and files with a
// "Code generated ... DO NOT EDIT." line near the top (Go's convention,
// which other generators follow). Skipped files are remembered in the
// manifest with their size and modification time, so an unchanged one is
// not read again.
// A file that is skipped or unreadable is logged (Debug or Warn) and left
// out; it never fails the Update.
//
// # Chunks
//
// Go files are parsed with go/parser: one chunk per top-level function or
// method (with its doc comment; a method's symbol is "Recv.Name"), per type
// spec, per const or var group, and one for the package doc comment.
// Imports are not chunks. Python files are parsed with tree-sitter: one
// chunk per function, per class (header, docstring and attributes up to
// its first method) and per method ("Class.method"), each with its
// decorators and the comment lines directly above; module-level code
// between them becomes line windows. Other files are cut into 60-line
// windows overlapping by 10. A declaration over 400 lines is cut into
// 200-line parts (the first keeps the doc comment and signature).
//
// A chunk's lexical terms are its text, its leading (doc) comment again
// three more times, its symbol two more times and its file path's words.
// The doc comment is boosted because a natural-language query is most
// often a paraphrase of one; the symbol because a function's name says
// more about it than any word of its body. Text is split into
// identifier-aware tokens: words and identifiers, split at camelCase and
// PascalCase humps, underscores and digits ("HTTPServer2" → http, server,
// 2), lowercased, with the whole identifier kept too ("readfile"); plural
// and -ing/-ed endings are stemmed lightly; Go keywords and a small set of
// English function words are dropped. The function words matter where
// code has no comments: there "the" or "of" appear only in string
// literals, so their idf is high and a query's function words would
// otherwise pull in every usage message. Common identifier abbreviations
// (buf, len, ctx, err, str, fmt, addr, ... about 100) also index their
// word (buffer, length, ...), so that a query's words reach code that
// abbreviates them; queries are not expanded.
//
// # On-disk layout
//
// The index directory holds:
//
//	.gitignore        "*", so the index never lands in version control
//	manifest          the commit point: a header line with the CRC-32C of
//	                  the JSON that follows, which lists the files below
//	                  with their sizes and CRC-32C, each segment's
//	                  tombstones, the embedder's name and the generation
//	seg-NNNNNN.bin    segments: file table (path, size, mtime, SHA-256
//	                  prefix), chunk table (lines, byte range, SHA-256
//	                  prefix of the chunk, symbol, kind, BM25 length),
//	                  sorted term dictionary with delta-varint postings,
//	                  and the chunks' int8 vectors with a float32 scale each
//	model-NNNNNN.bin  the built-in embedder (vocabulary, idf, int8 term
//	                  vectors)
//	embcache.bin      only during an Update with an external embedder: a
//	                  log of vectors by text hash, so an interrupted run
//	                  resumes without re-embedding; removed on commit
//	lock              flock'ed while an Update runs
//
// Chunk text is not stored. Search re-reads a hit's lines from its file
// and checks the chunk's hash; if the file changed since indexing, the
// snippet says so instead. This keeps the index well under the size of the
// source (on Go's standard library 0.48× with comments, 0.44× without).
//
// # Updates and crash safety
//
// Update first compares each file's size and modification time with the
// index; only files that differ are read, and only those whose content
// hash differs count as changed. Changed files go into a new segment; their
// old chunks are tombstoned in the manifest. Segments are merged into one
// (postings re-inverted, vectors copied, no file re-read) when there are
// more than 8 or more than 30% of chunks are dead.
//
// A commit writes new segment and model files to temporary names, fsyncs
// them, renames them into place, fsyncs the directory, and only then
// replaces the manifest the same way. Whatever happens before that rename
// (a crash, Ctrl-C through ctx) leaves the previous manifest and every file
// it names intact; files no manifest names are collected after the next
// commit. Open verifies every file against the manifest's checksums and
// reports damage as an error wrapping ErrCorrupt; deleting the manifest
// and running Update rebuilds the index (llmux index does this by itself).
// Within a process Update calls are serialized; across processes an
// exclusive flock on <dir>/lock makes a second writer fail with ErrLocked.
// Readers take no lock: they load a manifest and its files, retrying if a
// concurrent commit collected a file in between.
//
// # The built-in embedder
//
// With Options.Embedder nil, vectors come from latent semantic analysis
// (LSA) learned from the repository itself at Update: the chunk×term
// matrix of TF-IDF weights ((1+ln tf)·ln(N/df), rows normalized) over the
// same terms as BM25, restricted to terms in at least 3 chunks and to the
// 20,000 most frequent, is factorized by a randomized truncated SVD
// (Halko, Martinsson and Tropp 2011: Gaussian range sample, one power
// iteration, orthonormalization through the Gram matrix's eigenvectors,
// with gonum). Its rank is 96 (less for small repositories: chunks/32,
// at least 16). A text's vector is the fold-in of its TF-IDF vector onto
// the right singular vectors (Σ_t w_t·v_t, then normalized), so chunks and
// queries are embedded the same way and a new chunk needs no retraining.
// Vectors are stored as int8 with a per-vector scale.
//
// What it is and is not: LSA captures which words occur together in this
// repository, so a query's words can reach chunks that use related words
// (a query about a "buffer" reaching code about "buf" and "grow"). It has
// no knowledge beyond the repository, no word order, and no notion of
// meaning that co-occurrence does not show. On Go's standard library it is
// much weaker than BM25 alone (see Measurements) and is worth having only
// fused with it, mainly where comments are missing.
//
// The model is learned from the whole corpus. Incremental updates fold new
// and changed chunks into the existing term space (new words are unknown
// to it until retraining); once the chunks folded in since training exceed
// 20% of those it was trained on, the next Update relearns the model from
// scratch and rebuilds every segment (a full re-read).
//
// Any OpenAI-compatible embeddings endpoint can be used instead
// (NewHTTPEmbedder). Changing the embedder rebuilds the index; searching
// vectors needs the same embedder at query time (hybrid search without it
// falls back to lexical).
//
// # Search and fusion
//
// Lexical search is BM25 (k1 1.2, b 0.75) over the postings of all
// segments with global statistics. Vector search scans every vector (int8
// dot products, split over two goroutines for large indexes): a few
// milliseconds for 65,000 chunks, so no approximate index is needed below
// a few hundred thousand chunks.
//
// Hybrid search first ranks lexically. If the best chunk holds at least
// 60% of the largest BM25 score the query could reach (upper = Σ
// idf·(k1+1) over its terms), that ranking stands: the query names the
// chunk's own words. Otherwise the lexical top 50 and the vector top 20
// are ranked together by bm25/upper + 0.1·cosine, so a chunk that matches
// a large share of the query keeps its place and the vector decides among
// weak, near-tied matches, or brings in chunks with none of the query's
// words. Reciprocal rank fusion (k=60), the usual choice, was measured and
// rejected: it ignores scores, so a confident lexical rank 1 loses to a
// rank-2 chunk the (much weaker) vector list likes; on the benchmark below
// it lowered MRR@10 with comments from 0.91 to 0.84 even with the vector
// list weighted 0.2, and did not help without comments either.
//
// # Measurements
//
// `llmux bench codeindex` on the Go 1.26 standard library (GOROOT/src
// without tests, testdata, vendor and generated files: 3,501 files,
// 28.4 MiB; 2 cores), 5,435 queries: the first sentence of each exported
// function's doc comment without the function's name; a hit counts when
// it contains the function's line. Mode 1 indexes the code as it is,
// mode 2 with comments blanked. recall@1 / recall@10 / MRR@10:
//
//	                   lexical               vector                hybrid
//	mode 1 (comments)  0.867 / 0.977 / 0.911  0.367 / 0.642 / 0.452  0.867 / 0.977 / 0.911
//	mode 2 (blanked)   0.213 / 0.508 / 0.303  0.074 / 0.241 / 0.120  0.222 / 0.521 / 0.313
//
// The tuning behind the constants (a build-tagged evaluation in
// eval_test.go reproduces it): counting doc comments three more times
// raised mode 1 MRR@10 from 0.85 to 0.91; the English stopwords raised
// mode 2 recall@10 from 0.33 to 0.48 (then measured with the generated
// files in), the abbreviation expansion from 0.48 to 0.51.
// LSA ranks 96, 128 and 192 (20,000 to 60,000 terms) fused equally well;
// 96 has the smallest index. Hybrid gains nothing with comments (the
// lexical ranking is nearly always confident there) and +0.013 recall@10,
// +0.010 MRR@10 without them.
//
// Build: 7.3 s wall, 10 s CPU (cold, mode 1); no-op update 0.03 s; one
// edited file 0.04 s (full walk) or 0.015 s (Update with its path); index
// 0.48× (mode 1) and 0.44× (mode 2) of the source; query p50 1.0 ms, p99
// 6.5 ms (hybrid); peak RSS 409 MiB for the whole benchmark process.
package codeindex
