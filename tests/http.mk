# tests for http
