"""The portal's routes: one router per role, `auth` (login, logout, the home page) and
`accounts` (an applicant's registration and password reset).
Their dependencies (the account per role, the CSRF check, the shared context) are in
portal/deps.py; portal.app.create_app includes `router`.
"""

from fastapi import APIRouter

from portal.routers import (
    accounts,
    applicant,
    auth,
    committee,
    competent_unit,
    employer,
    evaluation,
    experts,
    inbox,
    materials,
    notice,
    search,
    sessions,
    supervisor,
)

router = APIRouter()
for role_router in (
    auth.router,
    accounts.router,
    applicant.router,
    employer.router,
    competent_unit.router,
    evaluation.router,
    committee.router,
    sessions.router,
    supervisor.router,
    experts.router,
    search.router,
    inbox.router,
    materials.router,
    notice.router,
):
    router.include_router(role_router)
