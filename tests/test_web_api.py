"""The REST API (``/api/v1``) and the media routes, against ``facesight serve`` running for real
over a copy of the workspace library (decisions made here leave the shared one as it was),
driven by httpx with the tokens ``facesight users token`` prints."""

from __future__ import annotations

import io
import json
import os
import struct
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import pytest
from PIL import Image

from facesight.library.facade import Library
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

from .paths import NOFACE, PEOPLE
from .workspace import (
    ENROLLED,
    HAMILTON,
    Server,
    copy_library,
    facesight,
    start_server,
    stop_server,
)

MISSING = 987654321
OBAMA = PEOPLE / "Barack_Obama" / "face_recognition_obama.jpg"
LIMIT_BYTES = 20 * 1024 * 1024  # ServeSettings.max_upload_bytes' default


@pytest.fixture(scope="module")
def private_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server's own temporary folder ($TMPDIR), to see that uploads leave nothing there."""
    return tmp_path_factory.mktemp("server-tmp")


@pytest.fixture(scope="module")
def api_server(
    workspace_library: Path,
    tmp_path_factory: pytest.TempPathFactory,
    private_tmp: Path,
    detector: FaceDetector,
    embedder: FaceEmbedder,
) -> Iterator[Server]:
    """``facesight serve`` over a copy of the workspace library, with its own $TMPDIR; the
    copy has also scanned a TIFF (a still no browser shows)."""
    copy = copy_library(workspace_library, tmp_path_factory.mktemp("api") / "lib")
    tiff = tmp_path_factory.mktemp("tiff") / "obama.tif"
    Image.open(OBAMA).save(tiff, format="TIFF")
    with Library(copy, create=False, detector=detector, embedder=embedder) as library:
        assert library.scan([tiff]).failures == []
    with mock.patch.dict(os.environ, {"TMPDIR": str(private_tmp)}):
        server = start_server(copy)
    yield server
    stop_server(server)


class Api:
    """One API client per account of ``server`` (closed with the module)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self._clients: dict[str, httpx.Client] = {}

    def __call__(self, name: str) -> httpx.Client:
        if name not in self._clients:
            self._clients[name] = self.server.api(name)
        return self._clients[name]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()


@pytest.fixture(scope="module")
def api(api_server: Server) -> Iterator[Api]:
    clients = Api(api_server)
    yield clients
    clients.close()


def _pages(client: httpx.Client, url: str, **params: Any) -> list[list[dict[str, Any]]]:
    """Every page of a list, following ``next_after``."""
    pages = []
    after = None
    while True:
        answer = client.get(url, params={**params, **({"after": after} if after else {})})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        pages.append(body["items"])
        after = body["next_after"]
        if after is None:
            return pages
        assert len(pages) < 100, "paging does not end"


def _audit(api: Api, **params: Any) -> list[dict[str, Any]]:
    answer = api("admin").get("/api/v1/audit", params=params)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def _pending(api: Api) -> list[dict[str, Any]]:
    answer = api("reviewer").get("/api/v1/queue", params={"limit": 200})
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


# -- people, sightings, one face -----------------------------------------------------


def test_people_are_paged_by_id_through_everyone(api: Api) -> None:
    pages = _pages(api("viewer"), "/api/v1/people", limit=2)
    names = [p["name"] for page in pages for p in page]
    assert sorted(names) == sorted(ENROLLED)
    assert [len(page) for page in pages] == [2, 2, 1]
    ids = [p["id"] for page in pages for p in page]
    assert ids == sorted(ids)
    assert all(p["references"] >= 1 for page in pages for p in page)


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 201},
        {"after": "x"},
        {"after": "-1"},
        {"after": "9" * 30},
        {"after": "\u00b2"},  # a digit to str.isdigit, not to int()
    ],
)
def test_a_bad_limit_or_cursor_is_a_422_naming_it(api: Api, params: Any) -> None:
    for url in ("/api/v1/people", "/api/v1/sightings", "/api/v1/queue"):
        answer = api("viewer").get(url, params=params)
        assert answer.status_code == 422, (url, params, answer.text)
        assert answer.json()["detail"]


def test_sightings_of_a_person_are_theirs_and_audited_as_a_view(api: Api) -> None:
    pages = _pages(api("viewer"), "/api/v1/sightings", person="Barack Obama", limit=1)
    shown = [s for page in pages for s in page]
    assert shown and all(s["proposed"]["person"] == "Barack Obama" for s in shown)
    assert all(s["decision"] in ("pending", "confirmed") for s in shown)
    views = _audit(api, action="view", actor="viewer", limit=len(shown))
    assert sorted(v["items"]["faces"][0] for v in views) == sorted(s["face_id"] for s in shown)
    assert {v["details"] for v in views} == {"sightings list"}


def test_an_unknown_person_or_face_is_a_404(api: Api) -> None:
    client = api("viewer")
    unknown = client.get("/api/v1/sightings", params={"person": "Nobody At All"})
    assert unknown.status_code == 404 and unknown.json()["error"] == "NotFoundError"
    face = client.get(f"/api/v1/faces/{MISSING}")
    assert face.status_code == 404 and str(MISSING) in face.json()["detail"]
    assert client.get("/api/v1/faces/0").status_code == 422
    assert client.get("/api/v1/faces/99999999999999999999").status_code == 422


def test_one_face_shows_its_evidence_and_is_audited(api: Api) -> None:
    item = _pending(api)[0]
    answer = api("viewer").get(f"/api/v1/faces/{item['face_id']}")
    assert answer.status_code == 200
    face = answer.json()
    assert face["state"] == item["state"] and face["state"].startswith("pending:")
    assert face["crop_url"] == f"/faces/{item['face_id']}/crop"
    assert face["proposed"]["reference_crop_url"].startswith("/references/")
    latest = _audit(api, action="view", limit=1)[0]
    assert latest["actor"] == "viewer" and latest["items"]["faces"] == [item["face_id"]]
    assert latest["details"] == "face"


# -- the review queue ------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["fmr", "quality", "date"])
def test_paging_the_queue_visits_every_pending_face_once(api: Api, sort: str) -> None:
    pages = _pages(api("reviewer"), "/api/v1/queue", sort=sort, limit=2)
    seen = [item["face_id"] for page in pages for item in page]
    assert len(seen) == len(set(seen))
    with Library(api.server.library, create=False) as library:
        pending = {s.face_id for s in library.pending()}
    assert set(seen) == pending and len(pending) >= 4
    assert all(len(page) == 2 for page in pages[:-1])


def test_a_queue_page_is_one_view_record_of_its_faces_under_the_account(
    api: Api,
) -> None:
    answer = api("reviewer").get("/api/v1/queue", params={"limit": 3})
    shown = [item["face_id"] for item in answer.json()["items"]]
    assert len(shown) == 3
    latest = _audit(api, action="view.sightings", limit=1)[0]
    assert latest["items"]["faces"] == shown
    assert latest["actor"] == "reviewer" and latest["details"] == "review queue page"
    # the same record read with the command line
    listed = facesight(api.server.library, "audit", "--action", "view", "--limit", "1", "--json")
    assert listed.returncode == 0, listed.stderr
    record = json.loads(listed.stdout)[0]
    assert record["items"]["faces"] == shown and record["actor"] == "reviewer"


def test_queue_items_carry_state_and_both_crops_which_load(api: Api) -> None:
    client = api("viewer")
    items = client.get("/api/v1/queue", params={"limit": 3}).json()["items"]
    for item in items:
        assert item["state"].startswith("pending:")
        for url in (item["crop_url"], item["reference_crop_url"]):
            crop = client.get(url)
            assert crop.status_code == 200 and crop.headers["content-type"] == "image/jpeg"
            assert crop.headers["cache-control"] == "private, max-age=300"
            assert Image.open(io.BytesIO(crop.content)).size[0] > 10


def test_queue_filters(api: Api) -> None:
    client = api("viewer")
    videos = client.get("/api/v1/queue", params={"kind": "video", "limit": 200}).json()["items"]
    assert videos and all(item["kind"] == "video" for item in videos)
    by_path = client.get("/api/v1/queue", params={"path": "HAMILTON", "limit": 200}).json()
    assert {item["face_id"] for item in by_path["items"]} == {v["face_id"] for v in videos}
    obama = client.get("/api/v1/queue", params={"person": "Barack Obama", "limit": 200})
    assert {i["proposed"]["person"] for i in obama.json()["items"]} == {"Barack Obama"}
    for bad in (
        {"kind": "audio"},
        {"quality": "superb"},
        {"sort": "name"},
        {"since": "yesterday"},
        {"category": "maybe"},
    ):
        answer = client.get("/api/v1/queue", params=bad)
        assert answer.status_code == 422, (bad, answer.text)
    assert client.get("/api/v1/queue", params={"person": "Nobody"}).status_code == 404


# -- decisions -----------------------------------------------------------------------


def test_a_decision_then_the_same_one_on_a_stale_state_is_a_409_with_the_current(
    api: Api,
) -> None:
    item = _pending(api)[0]
    url = f"/api/v1/faces/{item['face_id']}/decision"
    body = {"action": "confirm", "note": "same person", "expected": item["state"]}
    first = api("reviewer").post(url, json=body)
    assert first.status_code == 200, first.text
    decided = first.json()
    assert decided["decision"] == "confirmed" and decided["state"].startswith("confirmed:")
    assert decided["review"]["reviewer"] == "reviewer"
    # a second reviewer, still looking at the pending face, rejects it: refused
    second = api("admin").post(url, json={"action": "reject", "expected": item["state"]})
    assert second.status_code == 409, second.text
    conflict = second.json()
    assert conflict["error"] == "DecisionConflictError"
    assert conflict["current"]["state"] == decided["state"]
    assert conflict["current"]["review"]["reviewer"] == "reviewer"
    # nothing was overwritten, and the decision was audited under the account
    now = api("viewer").get(f"/api/v1/faces/{item['face_id']}").json()
    assert now["state"] == decided["state"]
    record = _audit(api, action="review", limit=1)[0]
    assert record["actor"] == "reviewer" and record["items"]["faces"] == [item["face_id"]]


def test_two_reviewers_deciding_one_face_at_once_one_wins_one_gets_409(api: Api) -> None:
    item = _pending(api)[0]
    url = f"/api/v1/faces/{item['face_id']}/decision"
    bodies = [
        ("reviewer", {"action": "confirm", "expected": item["state"]}),
        ("admin", {"action": "reject", "expected": item["state"]}),
    ]
    for name, _ in bodies:
        api(name)  # made before the threads start: each thread uses its own client
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda nb: api(nb[0]).post(url, json=nb[1]), bodies))
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    won, lost = sorted(answers, key=lambda a: a.status_code)
    assert lost.json()["current"]["state"] == won.json()["state"]
    now = api("viewer").get(f"/api/v1/faces/{item['face_id']}").json()
    assert now["state"] == won.json()["state"]  # the loser overwrote nothing


def test_a_browser_session_decides_with_its_csrf_token(api: Api) -> None:
    item = _pending(api)[0]
    url = f"/api/v1/faces/{item['face_id']}/decision"
    browser = api.server.sign_in("reviewer")
    refused = browser.post(url, json={"action": "reject", "expected": item["state"]})
    assert refused.status_code == 403 and "security token" in refused.json()["detail"]
    token = api.server.csrf(browser)
    answer = browser.post(
        url, json={"action": "reject", "expected": item["state"]}, headers={"X-CSRF-Token": token}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["review"]["reviewer"] == "reviewer"
    # a form upload carries the token as a field (the guard reads the form, the route reuses it)
    search = browser.post(
        "/api/v1/search",
        files={"image": ("obama.jpg", OBAMA.read_bytes(), "image/jpeg")},
        data={"csrf": token},
    )
    assert search.status_code == 200, search.text
    assert search.json()["faces"][0]["proposed"]["person"] == "Barack Obama"


def test_a_viewer_cannot_decide(api: Api) -> None:
    item = _pending(api)[0]
    answer = api("viewer").post(
        f"/api/v1/faces/{item['face_id']}/decision", json={"action": "reject"}
    )
    assert answer.status_code == 403 and answer.json()["error"] == "PermissionDeniedError"


def test_assigning_to_someone_else_needs_force(api: Api) -> None:
    item = _pending(api)[0]
    other = next(n for n in ENROLLED if n != item["proposed"]["person"])
    url = f"/api/v1/faces/{item['face_id']}/decision"
    body = {"action": "assign", "person": other, "expected": item["state"]}
    refused = api("reviewer").post(url, json=body)
    assert refused.status_code == 409 and refused.json()["error"] == "ManualIdentificationError"
    forced = api("reviewer").post(url, json=body | {"force": True})
    assert forced.status_code == 200, forced.text
    assert forced.json()["category"] == "manual identification"
    assert forced.json()["review"]["person"] == other


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"action": "maybe"},
        {"action": "reject", "color": "red"},
        {"action": "reject", "note": "x" * 2001},
        {"action": "reject", "note": "\ud800"},
        {"action": "assign"},
    ],
)
def test_a_malformed_decision_is_a_422(api: Api, body: Any) -> None:
    item = _pending(api)[0]
    answer = api("reviewer").post(
        f"/api/v1/faces/{item['face_id']}/decision",
        content=json.dumps(body),
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 422, answer.text


def test_bulk_decisions_each_stand_alone(api: Api) -> None:
    first, second = _pending(api)[:2]
    stale = "pending:1"  # a state none of them is in (they are pending for someone)
    decisions = [
        {"face_id": first["face_id"], "action": "reject", "expected": first["state"]},
        {"face_id": MISSING, "action": "reject"},
        {"face_id": second["face_id"], "action": "reject", "expected": stale + "@x"},
    ]
    answer = api("reviewer").post("/api/v1/decisions", json={"decisions": decisions})
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["face_id"] for r in results] == [d["face_id"] for d in decisions]
    assert [(r["ok"], r["status"]) for r in results] == [(True, 200), (False, 404), (False, 409)]
    assert [r["error"] for r in results] == [None, "NotFoundError", "DecisionConflictError"]
    assert results[0]["sighting"]["decision"] == "rejected"
    assert results[1]["sighting"] is None and str(MISSING) in results[1]["detail"]
    assert results[2]["sighting"]["state"] == second["state"]  # the current one, unchanged
    pending = {item["face_id"] for item in _pending(api)}
    assert first["face_id"] not in pending and second["face_id"] in pending
    empty = api("reviewer").post("/api/v1/decisions", json={"decisions": []})
    assert empty.status_code == 422


# -- search by face (upload) -----------------------------------------------------------


def _files_under(folder: Path) -> set[str]:
    return {
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith(("facesight.db", ".session-"))
    }


def _snapshot(api: Api, private_tmp: Path) -> set[str]:
    """Every file of the library folder and of the server's $TMPDIR."""
    return {f"lib/{f}" for f in _files_under(api.server.library)} | {
        f"tmp/{f}" for f in _files_under(private_tmp)
    }


def _new_files(api: Api, private_tmp: Path, before: set[str]) -> set[str]:
    return _snapshot(api, private_tmp) - before


@pytest.fixture(scope="module")
def warm(api: Api) -> None:
    """One search first: the models load (and convert once into the library's models/
    folder, third-party packages leave their own files in $TMPDIR): files that are no
    upload's."""
    face = ENROLLED["Joe Biden"].read_bytes()
    answer = api("viewer").post("/api/v1/search", files={"image": ("b.jpg", face, "image/jpeg")})
    assert answer.status_code == 200, answer.text


@pytest.mark.usefixtures("warm")
def test_search_finds_the_person_and_keeps_nothing(api: Api, private_tmp: Path) -> None:
    before = _snapshot(api, private_tmp)
    answer = api("viewer").post(
        "/api/v1/search",
        files={"image": ("obama.jpg", OBAMA.read_bytes(), "image/jpeg")},
        data={"top_k": "2"},
    )
    assert answer.status_code == 200, answer.text
    faces = answer.json()["faces"]
    assert len(faces) == 1 and len(faces[0]["candidates"]) == 2
    assert faces[0]["proposed"]["person"] == "Barack Obama"
    assert faces[0]["proposed"]["reference_crop_url"].startswith("/references/")
    assert _new_files(api, private_tmp, before) == set()
    record = _audit(api, action="search", limit=1)[0]
    assert record["action"] == "search.face" and record["actor"] == "viewer"


def _png_header_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels (its data is one empty row)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0"))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("content", "status", "words"),
    [
        (b"this is not an image at all", 422, "not an image"),
        (_png_header_claiming(8000, 6000), 422, "pixels is over the limit"),
        (b"\xff" * (LIMIT_BYTES + 1), 413, "over the limit of 20,971,520 bytes"),
        (b"", 422, "empty"),
    ],
)
@pytest.mark.usefixtures("warm")
def test_a_bad_upload_is_refused_in_one_line_and_nothing_is_kept(
    api: Api, private_tmp: Path, content: bytes, status: int, words: str
) -> None:
    before = _snapshot(api, private_tmp)
    answer = api("viewer").post(
        "/api/v1/search", files={"image": ("upload.jpg", content, "image/jpeg")}
    )
    assert answer.status_code == status, answer.text[:300]
    detail = answer.json()["detail"]
    assert words in detail and "\n" not in detail and "--max-pixels" not in detail
    assert str(private_tmp) not in detail  # the private file is never named
    assert _new_files(api, private_tmp, before) == set()


def test_a_body_far_over_the_limit_is_refused_before_it_is_read(api: Api) -> None:
    big = b"\0" * (LIMIT_BYTES * 2)
    try:
        answer = api("viewer").post(
            "/api/v1/search", files={"image": ("big.jpg", big, "image/jpeg")}
        )
    except httpx.RemoteProtocolError:
        # the server answered 413 and closed while the client was still sending: the
        # kernel may then reset the connection and drop the answer in flight. The body was
        # refused unread all the same (the next test counts a body as it arrives)
        return
    assert answer.status_code == 413
    assert answer.json()["error"] == "UploadTooLargeError"


def test_a_body_sent_without_its_length_is_counted_as_it_arrives(api: Api) -> None:
    def chunked() -> Iterator[bytes]:
        yield b'--b\r\nContent-Disposition: form-data; name="image"; filename="x.jpg"\r\n\r\n'
        for _ in range(LIMIT_BYTES // 65536 + 4):  # past the limit and its form overhead
            yield b"\0" * 65536
        yield b"\r\n--b--\r\n"

    answer = api("viewer").post(
        "/api/v1/search",
        content=chunked(),
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert answer.status_code == 413, answer.text[:300]
    assert "request body is over the limit" in answer.json()["detail"]


def test_a_search_without_an_image_field_says_so(api: Api) -> None:
    client = api("viewer")
    answer = client.post(
        "/api/v1/search", files={"photo": ("a.jpg", OBAMA.read_bytes(), "image/jpeg")}
    )
    assert answer.status_code == 422 and "`image`" in answer.json()["detail"]
    top_k = client.post(
        "/api/v1/search",
        files={"image": ("a.jpg", OBAMA.read_bytes(), "image/jpeg")},
        data={"top_k": "0"},
    )
    assert top_k.status_code == 422 and "top_k" in top_k.json()["detail"]
    superscript = client.post(
        "/api/v1/search",
        files={"image": ("a.jpg", OBAMA.read_bytes(), "image/jpeg")},
        data={"top_k": "\u00b2"},
    )
    assert superscript.status_code == 422
    noface = client.post(
        "/api/v1/search",
        files={"image": ("c.jpg", (NOFACE / "skimage_coffee.jpg").read_bytes(), "image/jpeg")},
    )
    assert noface.status_code == 200 and noface.json()["faces"] == []


# -- media -----------------------------------------------------------------------------


def _video_face(api: Api) -> dict[str, Any]:
    """A face of the video, whatever was decided on it (rejected faces are in no list)."""
    with Library(api.server.library, create=False) as library:
        face_id = next(
            s.face_id for s in library.sightings(include_unmatched=True) if s.kind == "video"
        )
    answer = api("viewer").get(f"/api/v1/faces/{face_id}")
    assert answer.status_code == 200, answer.text
    face: dict[str, Any] = answer.json()
    return face


def test_a_range_request_on_the_video_returns_those_bytes(api: Api) -> None:
    face = _video_face(api)
    client = api("viewer")
    answer = client.get(f"/faces/{face['face_id']}/media", headers={"Range": "bytes=100-199"})
    assert answer.status_code == 206
    size = HAMILTON.stat().st_size
    assert answer.headers["content-range"] == f"bytes 100-199/{size}"
    assert answer.content == HAMILTON.read_bytes()[100:200]
    assert answer.headers["content-type"] == "video/mp4"
    assert answer.headers["cache-control"] == "private, max-age=300"
    whole = client.get(f"/faces/{face['face_id']}/media")
    assert whole.status_code == 200 and whole.content == HAMILTON.read_bytes()
    assert whole.headers["accept-ranges"] == "bytes"
    latest = _audit(api, action="view", limit=1)[0]
    assert latest["items"]["faces"] == [face["face_id"]] and latest["details"] == "original video"


def test_the_evidence_frame_says_where_it_comes_from(api: Api) -> None:
    face = _video_face(api)
    answer = api("viewer").get(f"/faces/{face['face_id']}/frame")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
    assert answer.headers["x-evidence-source"].startswith("video frame at ")
    assert answer.headers["cache-control"] == "private, max-age=300"
    assert Image.open(io.BytesIO(answer.content)).size[0] > 100
    latest = _audit(api, action="view", limit=1)[0]
    assert latest["details"] == "evidence frame" and latest["actor"] == "viewer"


def test_media_a_browser_cannot_show_is_a_404_saying_why_and_its_frame_serves(
    api: Api,
) -> None:
    sightings = api("viewer").get("/api/v1/sightings", params={"limit": 200}).json()["items"]
    tiff = next(s for s in sightings if s["path"].endswith(".tif"))
    media = api("viewer").get(f"/faces/{tiff['face_id']}/media")
    assert media.status_code == 404  # the error page (media is not under /api/) says why
    assert "a browser cannot play this image (.tif, image/tiff)" in media.text
    assert f"/faces/{tiff['face_id']}/frame" in media.text
    frame = api("viewer").get(f"/faces/{tiff['face_id']}/frame")
    assert frame.status_code == 200 and frame.headers["x-evidence-source"] == "media file"


def test_media_of_an_unknown_id_is_a_404(api: Api) -> None:
    client = api("viewer")
    for url in (
        f"/faces/{MISSING}/crop",
        f"/references/{MISSING}/crop",
        f"/faces/{MISSING}/frame",
        f"/faces/{MISSING}/media",
    ):
        answer = client.get(url)
        assert answer.status_code == 404, url
        assert answer.headers["cache-control"] == "no-store"


def test_media_needs_a_sign_in(api: Api) -> None:
    face = _video_face(api)
    with api.server.client() as client:
        answer = client.get(f"/faces/{face['face_id']}/crop")
    assert answer.status_code == 303 and "/login" in answer.headers["location"]


# -- the audit log ---------------------------------------------------------------------


def test_the_audit_log_pages_newest_first_and_is_for_admins(api: Api) -> None:
    assert api("reviewer").get("/api/v1/audit").status_code == 403
    pages = _pages(api("admin"), "/api/v1/audit", limit=7)
    ids = [r["id"] for page in pages for r in page]
    assert ids == sorted(ids, reverse=True) and len(ids) == len(set(ids))
    assert ids[-1] == 1 and len(ids) == ids[0]  # every record, once
    users = _pages(api("admin"), "/api/v1/audit", action="users", limit=2)
    # users.* only (another module's test may have disabled an account before this one runs)
    actions = {r["action"] for page in users for r in page}
    assert "users.add" in actions and all(a.startswith("users.") for a in actions), actions
