# tests for jobs
