"""Heroku Connect API client: discovery on hc-central, then each connection's own cell.

Wire facts (API_NOTES section 3): every request carries the Heroku API key as a Bearer token;
`POST {discovery}/auth/{app}` adds the key's user to the add-on's access list (idempotent) and
returns the connections the user can see, each with the `region_url` of the cell that serves
it; the API root is `region_url + /api/v3`. Error bodies are `{"message"}` or `{"error"}`.
The key goes to a cell only if its host is on the allow-list (urls.check_credential_host).
"""

from __future__ import annotations

import ssl
import threading
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from promote_action.connect.models import (
    Connection,
    ConnectionRef,
    Diagnosis,
    Mapping,
    WriteErrors,
)
from promote_action.errors import PromoteError, RemoteError
from promote_action.http import HttpClient, RetryPolicy
from promote_action.urls import check_credential_host
from promote_action.waiting import CancelToken, Deadline

CONNECT_RETRIES = RetryPolicy(max_attempts=30, base_delay=1.0, max_delay=60.0)
"""Maintenance windows (up to ~45 min) answer 503: retried with backoff up to the deadline."""


def decode_connect_error(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        kind = response.headers.get("Content-Type", "no content type").split(";")[0]
        return f"http_{response.status_code}", f"non-JSON response ({kind})"
    if isinstance(body, dict):
        message = body.get("message") or body.get("error") or body.get("detail") or ""
        return f"http_{response.status_code}", str(message)
    return f"http_{response.status_code}", "unexpected error body"


class ConnectClient:
    def __init__(
        self,
        api_key: str,
        discovery_url: str,
        *,
        deadline: Deadline,
        cancel: CancelToken,
        transport: httpx.BaseTransport | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self._api_key = api_key
        self._deadline = deadline
        self._cancel = cancel
        self._transport = transport
        self._verify = verify
        self._cells: dict[str, HttpClient] = {}
        self._lock = threading.Lock()
        self._discovery_url = discovery_url
        self.discovery = self._client(discovery_url)

    def _client(self, base_url: str) -> HttpClient:
        return HttpClient(
            platform="Heroku Connect",
            base_url=base_url,
            deadline=self._deadline,
            cancel=self._cancel,
            decode_error=decode_connect_error,
            auth_headers={"Authorization": f"Bearer {self._api_key}"},
            default_headers={"Content-Type": "application/json", "User-Agent": "promote-action"},
            policy=CONNECT_RETRIES,
            transport=self._transport,
            verify=self._verify,
        )

    @property
    def requests_sent(self) -> int:
        return self.discovery.requests_sent + sum(c.requests_sent for c in self._cells.values())

    def close(self) -> None:
        for client in [self.discovery, *self._cells.values()]:
            client.close()

    # -- discovery --------------------------------------------------------------------------------

    def connections(self, app: str) -> list[ConnectionRef]:
        """The app's Sync connections, after joining their access lists with `POST /auth/{app}`
        every time (the plugin's `--check-for-new`): a search alone lists only connections the
        user was already on, so an add-on attached later would go unseen and the wrong
        connection be chosen. The handshake is idempotent, so it is repeated after a fault."""
        joined = self.discovery.request(
            "POST", f"/auth/{quote(app, safe='')}", params={"addon_type": "1"}, safe=True
        ).json()
        return self._sync_connections(app, joined.get("connections", []))

    @staticmethod
    def _sync_connections(app: str, items: list[Any]) -> list[ConnectionRef]:
        found = [ConnectionRef.model_validate(item) for item in items]
        return [c for c in found if c.app_name == app and c.addon_type in ("Sync", "")]

    def _cell(self, ref: ConnectionRef) -> HttpClient:
        """The cell that serves `ref`. Its URL comes from discovery, so it is checked against
        the credential allow-list before our key goes there, refused before any request."""
        try:
            root = check_credential_host(ref.region_url, self._discovery_url)
        except ValueError as exc:
            raise PromoteError(
                f"Heroku Connect named a region_url our key may not go to: {exc}"
            ) from None
        with self._lock:
            if root not in self._cells:
                self._cells[root] = self._client(root)
            return self._cells[root]

    @staticmethod
    def _resolve(ref: ConnectionRef, url: str) -> str:
        """URLs in responses may be absolute or relative to the cell. A leading `/` means the
        cell's API root, not its host: `urljoin` would drop the cell's own path prefix."""
        if url.startswith(("http://", "https://")):
            return url
        return ref.region_url.rstrip("/") + "/" + url.lstrip("/")

    def _api(self, ref: ConnectionRef, path: str) -> str:
        base = urlsplit(ref.region_url).path.rstrip("/")
        return f"{base}/api/v3{path}"

    # -- connections and mappings -----------------------------------------------------------------

    def connection(self, ref: ConnectionRef) -> Connection:
        cell = self._cell(ref)
        if ref.detail_url:
            path = urlsplit(self._resolve(ref, ref.detail_url)).path
        else:
            path = self._api(ref, f"/connections/{ref.id}")
        return Connection.model_validate(cell.get_json(path, params={"deep": "true"}))

    def export(self, ref: ConnectionRef) -> dict[str, Any]:
        data = self._cell(ref).get_json(self._api(ref, f"/connections/{ref.id}/actions/export"))
        if not isinstance(data, dict):
            raise PromoteError("Heroku Connect export returned no configuration object")
        return data

    def import_config(self, ref: ConnectionRef, config: dict[str, Any]) -> None:
        """Accepted at once, applied later: only the connection's state tells how it went."""
        path = self._api(ref, f"/connections/{ref.id}/actions/import")
        self._cell(ref).request("POST", path, json=config)

    def action(self, ref: ConnectionRef, name: str) -> None:
        """`pause`, `resume` or `restart`: asynchronous, answered 202."""
        self._cell(ref).request("POST", self._api(ref, f"/connections/{ref.id}/actions/{name}"))

    def restart(self, ref: ConnectionRef) -> None:
        """The plugin's `connect:recover`: asynchronous; RECOVERY, then IDLE."""
        self.action(ref, "restart")

    def reload_mapping(self, ref: ConnectionRef, mapping_id: str) -> None:
        """Reload one mapping's data from Salesforce (202). A second reload only restarts the
        load, so a reload whose answer was lost is sent again."""
        path = self._api(ref, f"/mappings/{mapping_id}/actions/reload")
        self._cell(ref).request("POST", path, safe=True)

    def mapping_validations(self, ref: ConnectionRef, mapping_id: str) -> Diagnosis:
        """The plugin's `connect:mapping:diagnose`: synchronous, one mapping's checks."""
        path = self._api(ref, f"/mappings/{mapping_id}/validations")
        return Diagnosis.model_validate(self._cell(ref).get_json(path))

    def mapping_schema(self, ref: ConnectionRef, mapping: Mapping) -> set[str] | None:
        """The Salesforce fields of a mapped object in the connection's org, from the mapping's
        `schema_url`; None where the API gives none. UNVERIFIED body: `{"fields": [{"name"}]}`,
        so a 404 or another shape means "not exposed", never a failed plan."""
        if not mapping.schema_url:
            return None
        path = urlsplit(self._resolve(ref, mapping.schema_url)).path
        try:
            body = self._cell(ref).get_json(path)
        except RemoteError as exc:
            if exc.status == 404:
                return None
            raise
        fields = body.get("fields") if isinstance(body, dict) else None
        if not isinstance(fields, list):
            return None
        return {str(f.get("name")) for f in fields if isinstance(f, dict) and f.get("name")}

    def delete_mapping(self, ref: ConnectionRef, mapping_id: str) -> None:
        self._cell(ref).request("DELETE", self._api(ref, f"/mappings/{mapping_id}"))

    def start_diagnosis(self, ref: ConnectionRef) -> str:
        """Starting a diagnosis changes nothing on the connection, so repeating it is safe."""
        path = self._api(ref, f"/connections/{ref.id}/validations")
        body = self._cell(ref).request("POST", path, safe=True).json()
        return str(body["result_url"])

    def diagnosis(self, ref: ConnectionRef, result_url: str) -> Diagnosis | None:
        """None while the diagnosis runs (202)."""
        path = urlsplit(self._resolve(ref, result_url)).path
        response = self._cell(ref).request("GET", path, ok_statuses=frozenset({202}))
        if response.status_code == 202 or not response.content:
            return None
        return Diagnosis.model_validate(response.json())

    def write_errors(self, ref: ConnectionRef) -> WriteErrors:
        """Errors writing to Salesforce in the last 24 hours."""
        path = self._api(ref, f"/connections/{ref.id}/errors")
        return WriteErrors.model_validate(self._cell(ref).get_json(path))
