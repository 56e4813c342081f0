# docs: shipped in the tarball.
EXTRA_DIST += docs
