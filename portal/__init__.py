"""The reviewers' and applicants' portal (docs/portal.md): `uvicorn portal.app:app`."""
