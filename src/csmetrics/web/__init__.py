"""The web dashboard, REST API and survey forms (FastAPI); thin over the library."""
