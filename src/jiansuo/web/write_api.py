"""The keyed write API: add, replace and delete documents over HTTP, and bring the index up to date.

    POST|PUT /api/documents[?refresh=true]   a JSON object, a JSON array, or NDJSON (one document a line)
    DELETE   /api/documents/{id}[?refresh=true]
    POST     /api/refresh

Every write needs an admin key (`Authorization: Bearer KEY`; `jiansuo keys create --role admin`): none is 401,
a search key is 403. Documents are validated exactly as `jiansuo index` validates a JSONL file; bad records are
reported as `line N: reason` and the rest are stored. A write answers once its documents are committed to the
store (they survive a crash from then on); they are searchable after the next refresh, which `refresh=true`
runs before answering (the answer says which). A refresh is not bound by the server's request time budget (with a
dense index it encodes the batch), and runs one at a time per worker.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from jiansuo.engine import Engine
from jiansuo.ingest.fields import IngestProblem, RecordError
from jiansuo.ingest.jsonl import body_lines, read_jsonl_lines
from jiansuo.model import Document
from jiansuo.store.api_keys import ApiKeys

OffLoop = Callable[..., Awaitable]


class KeyGate:
    """Who a request is, by its API key: None (no key), "invalid", "search" or "admin"."""

    def __init__(self, keys: ApiKeys, keyed_reads: bool):
        self.keys, self.keyed_reads = keys, keyed_reads

    def role(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        secret = header[7:].strip() if header[:7].lower() == "bearer " else request.headers.get("x-api-key", "")
        if not secret:
            return None
        return self.keys.role_of(secret) or "invalid"

    def refused(self, request: Request, needed: str) -> JSONResponse | None:
        """The 401/403 answer when the request's key does not allow `needed` ("search" or "admin"), else None."""
        role = self.role(request)
        if role in (None, "invalid"):
            reason = "this needs an API key (Authorization: Bearer KEY)" if role is None else "unknown or revoked key"
            return JSONResponse({"error": reason}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        if needed == "admin" and role != "admin":
            return JSONResponse({"error": "this key may only search; writing needs an admin key"}, status_code=403)
        return None


def add_write_routes(app: FastAPI, engine: Engine, off_loop: OffLoop, gate: KeyGate, max_body_bytes: int) -> None:
    async def write(request: Request, refresh: bool = False):
        if (refused := gate.refused(request, "admin")) is not None:
            return refused
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_body_bytes:
            return JSONResponse({"error": f"the body is larger than {max_body_bytes} bytes"}, status_code=413)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body_bytes:
                return JSONResponse({"error": f"the body is larger than {max_body_bytes} bytes"}, status_code=413)
        try:
            lines = body_lines(body)
        except RecordError as error:
            return JSONResponse({"error": str(error), "stored": 0}, status_code=400)
        documents: list[Document] = []
        errors: list[str] = []
        warnings: list[str] = []
        for item in read_jsonl_lines(lines, "body", detect=True):
            if isinstance(item, Document):
                documents.append(item)
            elif isinstance(item, IngestProblem):
                (errors if item.skipped else warnings).append(f"line {item.line}: {item.reason}")
        changed = await off_loop(engine.add, documents) if documents else 0
        answer = {"stored": len(documents), "changed": changed, "errors": errors, "warnings": warnings,
                  "store_seq": engine.store.seq, **(await _indexed(engine, off_loop, refresh))}
        return JSONResponse(answer, status_code=400 if errors and not documents else 200)

    for method in ("POST", "PUT"):
        app.add_api_route("/api/documents", write, methods=[method], operation_id=f"{method.lower()}_documents",
                          summary="Add or replace documents (admin key); JSON, a JSON array or NDJSON")

    @app.delete("/api/documents/{doc_id:path}", summary="Delete a document (admin key)")
    async def delete(request: Request, doc_id: str, refresh: bool = False):
        if (refused := gate.refused(request, "admin")) is not None:
            return refused
        removed = await off_loop(engine.delete, [doc_id])
        if not removed:
            return JSONResponse({"error": f"no document {doc_id!r}", "deleted": 0}, status_code=404)
        return JSONResponse({"deleted": removed, "store_seq": engine.store.seq,
                             **(await _indexed(engine, off_loop, refresh))})

    @app.post("/api/refresh", summary="Bring the indexes up to the store (admin key)")
    async def refresh_now(request: Request):
        if (refused := gate.refused(request, "admin")) is not None:
            return refused
        return JSONResponse(await _indexed(engine, off_loop, True))


_REFRESHES = anyio.CapacityLimiter(1)  # one index refresh at a time per worker


async def _indexed(engine: Engine, off_loop: OffLoop, refresh: bool) -> dict:
    if refresh:
        # not bound by the request time budget: indexing a batch (encoding it, with a dense index) may take minutes
        changed = await anyio.to_thread.run_sync(engine.refresh, limiter=_REFRESHES)
        return {"searchable": True, "indexed_changes": changed, "indexed_seq": engine.keyword.indexed_seq}
    return {"searchable": False, "note": "searchable after the next refresh (POST /api/refresh, or ?refresh=true)"}
