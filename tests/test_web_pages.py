"""The workspace's pages over ``facesight serve`` running for real (httpx, signed in through the
login form): the review queue's filters and keyset paging, one view audit record per page,
escaping, what a viewer may not do, the face and person pages, search by face and the audit
log. The browser itself (keys, bulk, the video player) is tests/test_web_browser.py."""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import httpx
import pytest

import facesight.web
from facesight.library.facade import Library
from facesight.records import Sighting
from facesight.vision.detect import FaceDetector
from facesight.vision.embed import FaceEmbedder

from .pages import audit_records, face_ids
from .paths import PEOPLE
from .workspace import HAMILTON, HOSTILE, Server, copy_library, start_server, stop_server

CARD = re.compile(r'<article class="card" id="face-(\d+)" data-face-id="\d+" data-state="([^"]+)"')


def _cards(page: httpx.Response) -> list[int]:
    assert page.status_code == 200, page.text[:500]
    return [int(m.group(1)) for m in CARD.finditer(page.text)]


SignIn = Callable[..., httpx.Client]


@pytest.fixture
def sign_in(served: Server) -> Iterator[SignIn]:
    """``Server.sign_in`` whose clients are closed after the test."""
    clients: list[httpx.Client] = []

    def signed_in(name: str, server: Server = served) -> httpx.Client:
        clients.append(server.sign_in(name))
        return clients[-1]

    yield signed_in
    for client in clients:
        client.close()


@pytest.fixture(scope="module")
def sightings(workspace_library: Path) -> dict[int, Sighting]:
    with Library(workspace_library, create=False) as library:
        return {s.face_id: s for s in library.sightings(include_unmatched=True)}


def test_the_queue_pages_by_keyset_through_every_pending_face(
    sign_in: SignIn, served: Server
) -> None:
    client = sign_in("reviewer")
    everything = _cards(client.get("/review", params={"limit": 500}))
    assert len(everything) >= 4
    seen: list[int] = []
    url: str | None = "/review?limit=2"
    while url is not None:
        page = client.get(url)
        shown = _cards(page)
        assert 1 <= len(shown) <= 2
        seen += shown
        found = re.search(r'<a href="([^"]+)" id="next-page"', page.text)
        url = html.unescape(found.group(1)) if found else None
        assert url is None or ("after=" in url and "limit=2" in url)
    assert seen == everything  # same order, nothing twice, nothing left out


def test_the_queue_filters_by_media_kind_person_and_path(
    sign_in: SignIn, served: Server, sightings: dict[int, Sighting]
) -> None:
    client = sign_in("reviewer")
    videos = _cards(client.get("/review", params={"kind": "video", "limit": 500}))
    images = _cards(client.get("/review", params={"kind": "image", "limit": 500}))
    assert videos and images and not set(videos) & set(images)
    assert all(sightings[i].kind == "video" for i in videos)
    assert all(sightings[i].kind == "image" for i in images)
    obama = _cards(client.get("/review", params={"person": "Barack Obama", "limit": 500}))
    assert obama and all(sightings[i].person == "Barack Obama" for i in obama)
    clip = _cards(client.get("/review", params={"path": HAMILTON.name.upper(), "limit": 500}))
    assert set(clip) == set(videos)
    nothing = client.get("/review", params={"path": "no-such-file-anywhere"})
    assert _cards(nothing) == [] and "No faces here with these filters" in nothing.text
    by_quality = _cards(client.get("/review", params={"sort": "quality", "limit": 500}))
    assert sorted(by_quality) == sorted(_cards(client.get("/review", params={"limit": 500})))


def test_each_queue_page_writes_one_view_record_with_the_faces_shown(
    sign_in: SignIn,
    served: Server,
) -> None:
    client = sign_in("reviewer")
    before = audit_records(served.library, "--action", "view")
    shown = _cards(client.get("/review", params={"limit": 3}))
    after = audit_records(served.library, "--action", "view")
    new = after[: len(after) - len(before)]
    assert len(new) == 1
    assert new[0]["actor"] == "reviewer" and face_ids(new[0]) == shown
    assert "review queue" in new[0]["details"]


def test_a_hostile_name_is_text_on_every_page(
    sign_in: SignIn, served: Server, sightings: dict[int, Sighting]
) -> None:
    client = sign_in("admin")
    hostile = [i for i, s in sightings.items() if s.person == HOSTILE]
    assert hostile, "the workspace library has a sighting of the hostile name"
    people = client.get("/").text
    person_id = re.search(r'<a href="/people/(\d+)">&lt;script&gt;', people)
    assert person_id is not None
    for url in (
        "/",
        "/review?limit=500",
        f"/review?person={HOSTILE}",
        f"/faces/{hostile[0]}",
        f"/people/{person_id.group(1)}",
        "/audit",
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        assert HOSTILE not in page.text, url
        assert "<script>alert" not in page.text, url
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get(f"/faces/{hostile[0]}").text


def test_a_viewer_sees_faces_but_no_decision_buttons(
    sign_in: SignIn, served: Server, sightings: dict[int, Sighting]
) -> None:
    viewer, reviewer = sign_in("viewer"), sign_in("reviewer")
    queue = viewer.get("/review")
    assert _cards(queue)
    assert "data-action" not in queue.text and "bulk-reject" not in queue.text
    decider = reviewer.get("/review").text
    assert "data-action=" in decider and "<kbd>c</kbd>" in decider  # the keys, listed
    assert "<kbd>j / ↓ / →</kbd>" in queue.text and "<kbd>c</kbd>" not in queue.text
    face = next(iter(sightings))
    page = viewer.get(f"/faces/{face}")
    assert page.status_code == 200 and "data-action" not in page.text
    assert 'data-action="confirm"' in reviewer.get(f"/faces/{face}").text
    # the menu shows only what the role may do
    assert 'href="/audit"' not in queue.text and 'href="/search"' in queue.text
    assert 'href="/audit"' in sign_in("admin").get("/review").text


def test_the_face_page_of_a_video_plays_from_the_track_best_frame(
    sign_in: SignIn, served: Server, sightings: dict[int, Sighting]
) -> None:
    video = next(s for s in sightings.values() if s.kind == "video")
    page = sign_in("viewer").get(f"/faces/{video.face_id}")
    assert page.status_code == 200
    assert f'src="/faces/{video.face_id}/media"' in page.text
    seek = re.search(r'data-seek="([^"]+)"', page.text)
    assert seek is not None and float(seek.group(1)) == pytest.approx(video.time_s)
    assert "Track from" in page.text and "/static/face.js" in page.text
    photo = next(s for s in sightings.values() if s.kind == "image")
    page = sign_in("viewer").get(f"/faces/{photo.face_id}")
    assert f'src="/faces/{photo.face_id}/frame"' in page.text and "<video" not in page.text


def test_a_missing_face_or_person_is_a_404_page(sign_in: SignIn, served: Server) -> None:
    client = sign_in("viewer")
    assert client.get("/faces/987654321").status_code == 404
    assert client.get("/people/987654321").status_code == 404
    bad = client.get("/review", params={"sort": "<b>nonsense</b>"})
    assert bad.status_code == 422 and "text/html" in bad.headers["content-type"]
    assert "sort:" in bad.text and "<b>nonsense" not in bad.text


def test_the_person_page_shows_references_and_sightings_and_writes_one_view_record(
    sign_in: SignIn,
    served: Server,
) -> None:
    client = sign_in("viewer")
    person_id = re.search(r'<a href="/people/(\d+)">Barack Obama</a>', client.get("/").text)
    assert person_id is not None
    before = len(audit_records(served.library, "--action", "view"))
    page = client.get(f"/people/{person_id.group(1)}")
    assert page.status_code == 200
    assert re.search(r'src="/references/\d+/crop"', page.text)
    assert 'href="/review?person=Barack%20Obama"' in page.text
    shown = [int(i) for i in re.findall(r'<a href="/faces/(\d+)" class="open">', page.text)]
    assert shown
    records = audit_records(served.library, "--action", "view")
    assert len(records) == before + 1 and face_ids(records[0]) == shown


def test_the_audit_page_pages_back_through_the_log(sign_in: SignIn, served: Server) -> None:
    client = sign_in("admin")
    first = client.get("/audit")
    assert first.status_code == 200
    ids = [int(i) for i in re.findall(r"<tr[^>]*>\s*<td>(\d+)</td>", first.text)]
    assert ids == sorted(ids, reverse=True) and len(ids) >= 2
    older = client.get(f"/audit?after={ids[1]}")
    older_ids = [int(i) for i in re.findall(r"<tr[^>]*>\s*<td>(\d+)</td>", older.text)]
    assert older_ids and max(older_ids) < ids[1]
    assert sign_in("reviewer").get("/audit").status_code == 403


@pytest.fixture
def private_server(
    workspace_library: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Server, Path]]:
    """A server of its own over a copy of the library, its temporary folder watched."""
    temp = tmp_path / "server-tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    server = start_server(copy_library(workspace_library, tmp_path / "lib"))
    try:
        yield server, temp
    finally:
        stop_server(server)


def _digests(folder: Path) -> set[str]:
    return {hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


def test_search_by_face_finds_the_person_and_keeps_nothing(
    sign_in: SignIn,
    private_server: tuple[Server, Path],
) -> None:
    server, temp = private_server
    photo = sorted((PEOPLE / "Barack_Obama").iterdir())[-1]
    data = photo.read_bytes()
    client = sign_in("viewer", server)
    token = server.csrf(client, "/search")
    refused = client.post("/search", files={"image": ("me.jpg", data, "image/jpeg")})
    assert refused.status_code == 403  # no CSRF token
    answer = client.post(
        "/search",
        data={"csrf": token},
        files={"image": ("me.jpg", data, "image/jpeg")},
    )
    assert answer.status_code == 200, answer.text[:500]
    assert "Barack Obama" in answer.text and "Est. FMR" in answer.text
    digest = hashlib.sha256(data).hexdigest()
    assert digest not in _digests(temp) and digest not in _digests(server.library)
    assert not list(temp.glob("facesight-upload-*"))  # the upload's folder is gone
    searches = audit_records(server.library, "--action", "search")
    assert searches[0]["actor"] == "viewer"
    empty = client.post(
        "/search", data={"csrf": token}, files={"image": ("e.jpg", b"", "image/jpeg")}
    )
    assert empty.status_code == 422 and "empty" in empty.text
    junk = client.post(
        "/search", data={"csrf": token}, files={"image": ("junk.jpg", b"not a photo", "image/jpeg")}
    )
    assert junk.status_code == 422 and "junk.jpg" in junk.text and str(temp) not in junk.text


def _avi_from(video: Path, destination: Path, frames: int = 50) -> Path:
    """The first ``frames`` frames of ``video`` as Motion-JPEG AVI: a file browsers do not play."""
    source = cv2.VideoCapture(str(video))
    fps = source.get(cv2.CAP_PROP_FPS)
    writer: cv2.VideoWriter | None = None
    try:
        for _ in range(frames):
            ok, frame = source.read()
            if not ok:
                break
            if writer is None:
                size = (frame.shape[1], frame.shape[0])
                writer = cv2.VideoWriter(
                    str(destination), cv2.VideoWriter.fourcc(*"MJPG"), fps, size
                )
            writer.write(frame)
    finally:
        source.release()
        if writer is not None:
            writer.release()
    return destination


def test_a_video_the_browser_cannot_play_shows_its_evidence_frame_and_says_why(
    sign_in: SignIn,
    workspace_library: Path,
    tmp_path: Path,
    detector: FaceDetector,
    embedder: FaceEmbedder,
) -> None:
    avi = _avi_from(HAMILTON, tmp_path / "clip.avi")
    copy = copy_library(workspace_library, tmp_path / "lib")
    with Library(copy, detector=detector, embedder=embedder) as library:
        library.scan([avi])
        found = [s for s in library.sightings(include_unmatched=True) if s.path == str(avi)]
    tracks = [s.face_id for s in found]
    assert found and found[0].candidates
    nearest = found[0].candidates[0].person
    server = start_server(copy)
    try:
        client = sign_in("viewer", server)
        page = client.get(f"/faces/{tracks[0]}")
        assert page.status_code == 200
        assert "<video" not in page.text and f'src="/faces/{tracks[0]}/frame"' in page.text
        assert 'id="not-playable"' in page.text and "A browser cannot play this video" in page.text
        frame = client.get(f"/faces/{tracks[0]}/frame")
        assert frame.status_code == 200 and frame.content[:2] == b"\xff\xd8"
        with server.api("reviewer") as api:  # two decisions: the page lists both
            first = api.post(
                f"/api/v1/faces/{tracks[0]}/decision", json={"action": "reject", "person": nearest}
            )
            assert first.status_code == 200, first.text
            again = api.post(
                f"/api/v1/faces/{tracks[0]}/decision",
                json={"action": "reject", "person": nearest, "expected": first.json()["state"]},
            )
            assert again.status_code == 200, again.text
        history = client.get(f"/faces/{tracks[0]}").text
        assert "Every decision on this face (2)" in history
        assert history.count("reviewer rejected") == 2
        avi.unlink()  # moved away since the scan: the page still shows the stored evidence
        page = client.get(f"/faces/{tracks[0]}")
        assert page.status_code == 200 and "The video cannot be opened" in page.text
    finally:
        stop_server(server)


def test_templates_hold_no_inline_script_or_style_and_never_mark_data_safe() -> None:
    """The CSP forbids inline script and style (they would silently not run), and ``|safe``
    would let a name through unescaped."""
    templates = Path(facesight.web.__file__).parent / "templates"
    checked = 0
    for template in sorted(templates.glob("*.html")):
        text = template.read_text(encoding="utf-8")
        where = template.name
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), where
        assert "<style" not in text and not re.search(r"\sstyle=", text), where
        assert not re.search(r"\son[a-z]+\s*=", text), where  # onclick=... handlers
        assert not re.search(r"\|\s*safe\b", text) and "Markup(" not in text, where
        assert "javascript:" not in text, where
        checked += 1
    assert checked >= 8
