# docs
EXTRA_DIST += docs/nn.md
