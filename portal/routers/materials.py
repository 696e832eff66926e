"""The evaluation body's downloads of a declaration's materials in blind view (R11), by its
anonymous code and only ever the masked copy (which materials: portal/materials.py).

    GET /materials/{code}                the declaration's materials: number, name, type,
                                         pages, link
    GET /materials/{code}/{n}            material n (1-based): its masked copy, as an
                                         attachment named {code}-{n}.pdf (or .png)
    GET /materials/{code}/{n}/pages/{i}  its page i (0-based) as a PNG image (the inline
                                         viewer of the declaration's page, /evaluation/{code})
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from portal.deps import BlindDeclaration, CurrentEvaluationBody, EvaluationBodyPage
from portal.materials import blind_materials
from portal.routers.files import add_blind_routes

router = APIRouter()


@router.get("/materials/{code}", response_class=HTMLResponse)
async def material_list(page: EvaluationBodyPage, row: BlindDeclaration, code: str) -> Response:
    context = {"code": code, "materials": await blind_materials(page.portal, row)}
    return page.render("materials.html", context)


add_blind_routes(router, "/materials/{code}", CurrentEvaluationBody, BlindDeclaration)
