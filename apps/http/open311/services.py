"""Discovery: the services a client may report (``services.json``) and the attributes each takes."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from apps.http.open311.answers import PREFIX, ApiError, Open311Response, answers
from apps.http.open311.deps import Context, context, json_format
from incidents.intake import shown
from incidents.sla import Rules

router = APIRouter(prefix=PREFIX)


def service_item(rules: Rules, code: str) -> dict[str, Any]:
    r = rules.services[code]
    return {"service_code": code, "service_name": r.name, "description": r.description,
            "metadata": bool(r.attributes), "type": "realtime", "keywords": ",".join(r.keywords),
            "group": r.group}


def service_attributes(rules: Rules, code: str) -> list[dict[str, Any]]:
    return [{"variable": True, "code": a.code, "datatype": a.datatype, "required": a.required,
             "datatype_description": None, "order": i + 1, "description": a.description,
             "values": [{"key": k, "name": v} for k, v in a.values.items()]}
            for i, a in enumerate(rules.services[code].attributes)]


@router.get("/services.{fmt}", responses=answers(400), dependencies=[Depends(json_format)])
def services(ctx: Context = Depends(context)) -> JSONResponse:
    return Open311Response([service_item(ctx.rules, c) for c in ctx.rules.services])


@router.get("/services/{code}.{fmt}", responses=answers(400, 404), dependencies=[Depends(json_format)])
def service_definition(code: str, ctx: Context = Depends(context)) -> JSONResponse:
    if code not in ctx.rules.services:
        raise ApiError(404, f"unknown service_code {shown(code)}")
    return Open311Response({"service_code": code, "attributes": service_attributes(ctx.rules, code)})
