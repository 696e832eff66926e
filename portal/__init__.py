"""The reviewers' and applicants' portal (issue 5): `uvicorn portal.app:app`."""
