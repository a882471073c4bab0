"""Testing helpers that ship with the package (as ``numpy.testing`` does): the mutation
fuzzer the readers are held to (:mod:`.fuzz`)."""
