# tests for nn
