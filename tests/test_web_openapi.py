"""The API's OpenAPI document exercised by schemathesis against ``facesight serve`` running for
real (over a copy of the workspace library: the generated decisions change faces), with an
admin's token: no operation answers a server error, whatever schemathesis sends; and the
media routes, outside the document, fuzzed by id and Range header the same way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import FailureGroup, not_a_server_error, response_schema_conformance

from .workspace import Server, copy_library, start_server, stop_server

EXAMPLES = 20
"""Cases per operation and generation mode: the whole module takes about 25 s here."""


@pytest.fixture(scope="module")
def fuzzed_server(
    workspace_library: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    server = start_server(copy_library(workspace_library, tmp_path_factory.mktemp("oa") / "lib"))
    yield server
    stop_server(server)


def _operations(server: Server) -> list[Any]:
    """Every operation of the served OpenAPI document (fetched with an admin's token)."""
    schema = schemathesis.openapi.from_url(
        f"{server.url}/api/v1/openapi.json", headers=_admin(server), timeout=30
    )
    return [result.ok() for result in schema.get_all_operations()]


def _admin(server: Server) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token('admin')}"}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_operation_answers_a_server_error(fuzzed_server: Server, mode: GenerationMode) -> None:
    # schemathesis' pytest plugin (schema.parametrize) does not run under pytest 9: each
    # operation's cases are drawn from its Hypothesis strategy here instead
    operations = _operations(fuzzed_server)
    assert len(operations) >= 8, [o.label for o in operations]
    failures: list[str] = []
    nothing_to_break: list[str] = []
    calls = 0
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            phases=[Phase.generate],
        )
        def exercise(case: Any) -> None:
            nonlocal calls
            calls += 1
            response = case.call(base_url=fuzzed_server.url, headers=_admin(fuzzed_server))
            try:
                case.validate_response(
                    response, checks=[not_a_server_error, response_schema_conformance]
                )
            except (FailureGroup, AssertionError) as error:
                failures.append(f"{case.operation.label}: {str(error)[:400]}")

        try:
            exercise()
        except Unsatisfiable:
            # an operation with nothing a client can get wrong (no parameter, no body) has
            # no negative case: schemathesis can draw none
            if mode is not GenerationMode.NEGATIVE:
                raise
            nothing_to_break.append(operation.label)
    assert not failures, "\n".join(failures[:10])
    exercised = len(operations) - len(nothing_to_break)
    assert exercised >= len(operations) * 0.9, nothing_to_break
    assert calls >= exercised * 5


@given(
    route=st.sampled_from(["/faces/{}/crop", "/references/{}/crop", "/faces/{}/frame"]),
    item=st.integers(min_value=-5, max_value=60) | st.integers(),
)
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_media_by_any_id_never_answers_a_server_error(
    fuzzed_server: Server, route: str, item: int
) -> None:
    # the media routes are outside the OpenAPI document (they answer bytes, and pages' errors)
    answer = fuzzed_server.api("viewer").get(route.format(item))
    assert answer.status_code in (200, 404, 422), (route, item, answer.status_code)


@given(
    item=st.integers(min_value=1, max_value=60),
    byte_range=st.text(max_size=40) | st.from_regex(r"bytes=\d{0,9}-\d{0,9}(,\d{0,6}-\d{0,6})?"),
)
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_media_with_any_range_never_answers_a_server_error(
    fuzzed_server: Server, item: int, byte_range: str
) -> None:
    headers = {"Range": byte_range} if byte_range.isascii() and byte_range.isprintable() else {}
    answer = fuzzed_server.api("viewer").get(f"/faces/{item}/media", headers=headers)
    assert answer.status_code in (200, 206, 400, 404, 416, 422), (item, byte_range, answer.text)
