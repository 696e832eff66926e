"""The files of a declaration's dossier, served to the role that may see them: each material
the workflow holds (portal/materials.py) and the employer's signed scans of attachments 2
and 3 (portal/dossier.py), as a download and page by page as PNG images for the inline
viewer (portal/viewer.py). The routes are added to a role's router by the functions below,
with the role's account and declaration dependencies, so that each role states once who it
is and which declarations it may read:

    {prefix}/materials/{n}/original|masked[/pages/{i}]   the employer, the competent unit
    {prefix}/scans/{2|3}[/pages/{i}]                     the employer, the competent unit
    {blind prefix}/{n}[/pages/{i}]                       the evaluation body, the committee:
                                                         the masked copy only, named by the
                                                         anonymous code ({code}-{n}.pdf)

No `from __future__ import annotations` here: FastAPI reads the annotations of the routes
made in these functions at run time.
"""

from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from portal.context import Portal, Refusal
from portal.deps import PortalDep, Uploads
from portal.dossier import dossier, recommendation_scans
from portal.materials import MaterialFiles, materials_with_files, read_held
from portal.security import blind_code
from portal.viewer import ViewedFile, file_download, page_png
from store.accounts import display_names

VERSIONS_ZH = {"original": "原件", "masked": "遮盖副本"}


def material_views(
    files: list[MaterialFiles], base: str, *, blind_as: str | None = None
) -> list[dict[str, Any]]:
    """What a page lists of each material: its number and title and its files as viewed
    files (ViewedFile) under `base`. `blind_as` (the anonymous code): the masked copy only,
    at `{base}/{n}`, named `{code}-{n}`."""
    views = []
    for f in files:
        if blind_as is not None:
            url, name = f"{base}/{f.number}", f"{blind_as}-{f.number}"
            masked = ViewedFile(f.masked, name, url) if f.masked else None
            views.append({"number": f.number, "title": f.title, "masked": masked})
            continue
        view: dict[str, Any] = {"number": f.number, "title": f.title}
        for version, upload in (("original", f.original), ("masked", f.masked)):
            name = f"材料{f.number}-{f.title}-{VERSIONS_ZH[version]}"
            url = f"{base}/materials/{f.number}/{version}"
            view[version] = ViewedFile(upload, name, url) if upload else None
        views.append(view)
    return views


async def scan_views(portal: Portal, workflow_id: str, base: str) -> list[dict[str, Any]]:
    """The recommendation's signed scans (attachments 2 and 3) as viewed files under `base`."""
    return [
        {
            "number": scan.number,
            "name": scan.name,
            "file": ViewedFile(
                scan.upload, f"附件{scan.number}-签章扫描件", f"{base}/scans/{scan.number}"
            )
            if scan.upload
            else None,
        }
        for scan in await recommendation_scans(portal, workflow_id)
    ]


def timeline_people(state: Any) -> set[str]:
    """The actor ids a timeline names: who acted, and to whom an `assign` handed it."""
    if state is None:
        return set()
    return {t.actor.id for t in state.timeline} | {
        t.assignee.id for t in state.timeline if t.assignee is not None
    }


async def open_dossier(
    portal: Portal, row: Any, base: str
) -> tuple[dict[str, Any], Refusal | None]:
    """What the page of a role that is not blind shows of a declaration, its files under
    `base`: its `state`, the whole `dossier`, the `materials` with both files, the `scans`;
    the Refusal to show when the workflow could not be read (then without state or dossier)."""
    state, held, refusal = None, None, None
    try:
        state = await portal.state(row.workflow_id)
        held = await read_held(portal, row.workflow_id)
    except Refusal as unavailable:
        refusal = unavailable
    files = await materials_with_files(portal, row, held) if held else []
    return {
        "row": row,
        "state": state,
        "dossier": dossier(held.declaration, blind=False) if held else None,
        "materials": material_views(files, base),
        "scans": await scan_views(portal, row.workflow_id, base),
        # R26: who decided, by name (not blind: the employer's and competent unit's pages)
        "people": await display_names(portal.engine(), timeline_people(state)),
    }, refusal


async def _material(portal: Portal, row: Any, number: int) -> MaterialFiles:
    held = await read_held(portal, row.workflow_id)
    files = await materials_with_files(portal, row, held)
    if not 1 <= number <= len(files):
        raise HTTPException(404, "没有这份材料")
    return files[number - 1]


def add_material_routes(router: APIRouter, prefix: str, Account: Any, Row: Any) -> None:
    """The materials (original and masked copy) and the signed scans of one role that is
    not blind: `Account` (an annotated dependency of portal/deps.py) checks the role, `Row`
    gives the declaration's projection row (404 for one the account may not see)."""

    async def material(portal: Portal, found: Any, number: int, version: str) -> ViewedFile:
        if version not in VERSIONS_ZH:
            raise HTTPException(404, "没有这份材料")
        files = await _material(portal, found, number)
        upload = files.original if version == "original" else files.masked
        if upload is None:
            raise HTTPException(404, "没有这份材料的文件")
        name = f"材料{number}-{files.title}-{VERSIONS_ZH[version]}"
        return ViewedFile(upload, name, "")

    async def scan(portal: Portal, found: Any, number: int) -> ViewedFile:
        for item in await recommendation_scans(portal, found.workflow_id):
            if item.number == number and item.upload is not None:
                return ViewedFile(item.upload, f"附件{number}-签章扫描件", "")
        raise HTTPException(404, "没有这份扫描件")

    @router.get(f"{prefix}/materials/{{number}}/{{version}}")
    async def material_file(
        _: Account, found: Row, portal: PortalDep, uploads: Uploads, number: int, version: str
    ) -> Response:
        return await file_download(uploads, await material(portal, found, number, version))

    @router.get(f"{prefix}/materials/{{number}}/{{version}}/pages/{{index}}")
    async def material_page(
        _: Account,
        found: Row,
        portal: PortalDep,
        uploads: Uploads,
        number: int,
        version: str,
        index: int,
    ) -> Response:
        viewed = await material(portal, found, number, version)
        return await page_png(uploads, viewed.upload, index)

    @router.get(f"{prefix}/scans/{{number}}")
    async def scan_file(
        _: Account, found: Row, portal: PortalDep, uploads: Uploads, number: int
    ) -> Response:
        return await file_download(uploads, await scan(portal, found, number))

    @router.get(f"{prefix}/scans/{{number}}/pages/{{index}}")
    async def scan_page(
        _: Account, found: Row, portal: PortalDep, uploads: Uploads, number: int, index: int
    ) -> Response:
        return await page_png(uploads, (await scan(portal, found, number)).upload, index)


def add_blind_routes(router: APIRouter, prefix: str, Account: Any, Row: Any) -> None:
    """The masked copies of a blind role (R11), by the anonymous code: `{prefix}/{n}` as a
    download named `{code}-{n}.pdf` (or .png, .jpg) and its pages; 404 for a material
    without a masked copy the masking tool made for the applicant. `Account` and `Row` as
    for `add_material_routes`."""

    async def masked(portal: Portal, found: Any, number: int) -> ViewedFile:
        copy = (await _material(portal, found, number)).masked
        if copy is None:
            raise HTTPException(404, "没有这份材料的遮盖副本")
        return ViewedFile(copy, f"{blind_code(found.workflow_id, portal.secret)}-{number}", "")

    @router.get(f"{prefix}/{{number}}")
    async def blind_file(
        _: Account, found: Row, portal: PortalDep, uploads: Uploads, number: int
    ) -> Response:
        return await file_download(uploads, await masked(portal, found, number))

    @router.get(f"{prefix}/{{number}}/pages/{{index}}")
    async def blind_page(
        _: Account, found: Row, portal: PortalDep, uploads: Uploads, number: int, index: int
    ) -> Response:
        return await page_png(uploads, (await masked(portal, found, number)).upload, index)
