"""Testing helpers that ship with the package (as ``numpy.testing`` does): the mutation
fuzzer the readers are held to (:mod:`.fuzz`) and the free-value byte ranges of file
formats, where damage is undetectable in principle (:mod:`.payload`)."""
