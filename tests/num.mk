# tests for num
