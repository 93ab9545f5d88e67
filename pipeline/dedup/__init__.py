"""Near-duplicate detection internals for the ``dedup`` stage.

``shingles`` (normalise, tokenise and hash word n-grams, vectorised), ``minhash`` (signatures and LSH
band keys), ``lsh`` (candidate pairs from band-key collisions), ``clusters`` (verified union-find and
keepers), ``index`` (the compact on-disk index kept in a ``--state`` directory).
"""
